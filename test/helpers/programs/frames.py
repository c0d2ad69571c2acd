#!/usr/bin/env python3
# Raw Ethernet frames for the kernel tests, run inside a test's network namespace with the
# CAP_NET_RAW a pod has by default (test/helpers/frames.ts builds and reads the frames):
#   frames.py send IFACE HEX...   sends each frame exactly as given: MACs, addresses, all
#   frames.py sniff IFACE         prints "ready", then every frame IFACE receives as one hex
#                                 line (not those it sends), until stdin closes
import select
import socket
import sys

ETH_P_ALL = 3
PACKET_OUTGOING = 4


def main() -> None:
    command, iface = sys.argv[1], sys.argv[2]
    if command == 'send':
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        for frame in sys.argv[3:]:
            s.send(bytes.fromhex(frame))
        return
    if command != 'sniff':
        sys.exit(f'unknown command {command!r}')
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    print('ready', flush=True)
    while True:
        readable, _, _ = select.select([s, sys.stdin], [], [])
        if s in readable:
            data, addr = s.recvfrom(65535)
            if addr[2] != PACKET_OUTGOING:
                print(data.hex(), flush=True)
        if sys.stdin in readable and not sys.stdin.buffer.read1(4096):
            # What arrived before stdin closed is still printed.
            s.setblocking(False)
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except BlockingIOError:
                    return
                if addr[2] != PACKET_OUTGOING:
                    print(data.hex(), flush=True)


main()
