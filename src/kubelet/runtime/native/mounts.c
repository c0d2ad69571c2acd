// weft-mounts: the container supervisor's (launcher.ts) mount work in one process. Each
// operation is a word followed by its arguments; they run in order and the first failure
// ends the program with exit code 1 and one line on stderr naming it. mount(8) would be one
// program per mount (it parses the mount table each time): a container start made ~18.
//
//   mount FSTYPE SOURCE TARGET OPTIONS   OPTIONS as mount(8)'s -o: flag words (ro, rw,
//                                        nosuid, nodev, noexec, noatime, relatime, bind,
//                                        rbind, move, remount, unbindable, private, slave,
//                                        shared, rec), the rest passed to the filesystem;
//                                        "-" for no FSTYPE, SOURCE or OPTIONS. A bind remount
//                                        keeps the mount's nosuid/nodev/noexec/atime flags.
//   mkdir PATH MODE                      MODE in octal, set exactly (not masked)
//   touch PATH                           an empty file to bind a file onto
//   symlink TARGET PATH
//   copyattr REFERENCE PATH              PATH gets REFERENCE's mode and owner
//   rodisks ROOT                         every disk filesystem of the mount table (ext4, xfs,
//                                        btrfs, nfs, …; not /, /proc, /sys, /dev or /run)
//                                        bound read-only at ROOT/<its mount point> where that
//                                        directory exists, parents first; one that cannot be
//                                        bound is skipped. (A shell loop over the table read
//                                        it a byte per system call: ~50 ms per container with
//                                        a hundred pods' mounts on the node.)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const struct {
  const char *word;
  unsigned long flag;
  int clear;
} flag_words[] = {
    {"ro", MS_RDONLY, 0},        {"rw", MS_RDONLY, 1},           {"nosuid", MS_NOSUID, 0},
    {"nodev", MS_NODEV, 0},      {"noexec", MS_NOEXEC, 0},       {"noatime", MS_NOATIME, 0},
    {"relatime", MS_RELATIME, 0}, {"bind", MS_BIND, 0},          {"rbind", MS_BIND | MS_REC, 0},
    {"move", MS_MOVE, 0},        {"remount", MS_REMOUNT, 0},     {"unbindable", MS_UNBINDABLE, 0},
    {"private", MS_PRIVATE, 0},  {"slave", MS_SLAVE, 0},         {"shared", MS_SHARED, 0},
    {"rec", MS_REC, 0},
};

static const unsigned long propagation = MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED;

static int fail(const char *op, const char *what, int err) {
  fprintf(stderr, "weft-mounts: %s %s: %s\n", op, what, strerror(err));
  return 1;
}

// Splits mount(8)-style options into flags and the filesystem's data (written to data).
static int parse_options(const char *options, unsigned long *flags, char *data, size_t size) {
  *flags = 0;
  data[0] = 0;
  if (strcmp(options, "-") == 0) return 0;
  char *copy = strdup(options);
  if (!copy) return -1;
  size_t used = 0;
  for (char *save = NULL, *word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
    size_t i;
    for (i = 0; i < sizeof flag_words / sizeof flag_words[0]; i++) {
      if (strcmp(word, flag_words[i].word) == 0) break;
    }
    if (i < sizeof flag_words / sizeof flag_words[0]) {
      if (flag_words[i].clear) *flags &= ~flag_words[i].flag;
      else *flags |= flag_words[i].flag;
      continue;
    }
    size_t len = strlen(word);
    if (used + len + 2 > size) {
      free(copy);
      errno = E2BIG;
      return -1;
    }
    if (used) data[used++] = ',';
    memcpy(data + used, word, len + 1);
    used += len;
  }
  free(copy);
  return 0;
}

static const char *disk_types[] = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "exfat", "ntfs",
                                   "ntfs3", "nfs", "nfs4", "cifs", "9p", "virtiofs", "squashfs", "erofs", "iso9660"};

static int is_disk_type(const char *fstype) {
  if (strncmp(fstype, "fuse.", 5) == 0) return 1;
  for (size_t i = 0; i < sizeof disk_types / sizeof disk_types[0]; i++) {
    if (strcmp(fstype, disk_types[i]) == 0) return 1;
  }
  return 0;
}

static int under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

// mountinfo's octal escapes (\040 for a space) undone in place.
static void unescape(char *s) {
  char *out = s;
  for (char *in = s; *in; out++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '7' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
      in += 4;
    } else {
      *out = *in++;
    }
  }
  *out = 0;
}

static void bind_disks(const char *root) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    // id parent major:minor root mountpoint options [optional fields] - fstype source super
    char *save = NULL, *field = strtok_r(line, " \n", &save);
    char *mountpoint = NULL, *fstype = NULL;
    for (int i = 1; field; i++, field = strtok_r(NULL, " \n", &save)) {
      if (i == 5) mountpoint = field;
      if (i > 6 && strcmp(field, "-") == 0) {
        fstype = strtok_r(NULL, " \n", &save);
        break;
      }
    }
    if (!mountpoint || !fstype || !is_disk_type(fstype)) continue;
    unescape(mountpoint);
    if (strcmp(mountpoint, "/") == 0 || under(mountpoint, "/proc") || under(mountpoint, "/sys") || under(mountpoint, "/dev") || under(mountpoint, "/run")) continue;
    char target[4096];
    struct stat st;
    if (snprintf(target, sizeof target, "%s%s", root, mountpoint) >= (int)sizeof target) continue;
    if (stat(target, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (mount(mountpoint, target, NULL, MS_BIND, NULL) != 0) continue;
    struct statvfs vfs;
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
    if (statvfs(target, &vfs) == 0) {
      if (vfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
      if (vfs.f_flag & ST_NODEV) flags |= MS_NODEV;
      if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    }
    if (mount(NULL, target, NULL, flags, NULL) != 0) umount2(target, MNT_DETACH);
  }
  free(line);
  fclose(f);
}

static int do_mount(char **a) {
  const char *fstype = strcmp(a[0], "-") ? a[0] : NULL;
  const char *source = strcmp(a[1], "-") ? a[1] : NULL;
  const char *target = a[2];
  unsigned long flags;
  char data[4096];
  if (parse_options(a[3], &flags, data, sizeof data) != 0) return fail("mount", target, errno);
  if (flags & propagation) {
    // A propagation change is a call of its own, with no other flag.
    if (flags & ~(propagation | MS_REC)) return fail("mount", target, EINVAL);
    if (mount(NULL, target, NULL, flags, NULL) != 0) return fail("mount", target, errno);
    return 0;
  }
  if ((flags & MS_REMOUNT) && (flags & MS_BIND)) {
    struct statvfs st;
    if (statvfs(target, &st) != 0) return fail("mount", target, errno);
    if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  }
  if (mount(source, target, fstype, flags, data[0] ? data : NULL) != 0) return fail("mount", target, errno);
  return 0;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc;) {
    const char *op = argv[i];
    int left = argc - i - 1;
    char **a = argv + i + 1;
    if (strcmp(op, "mount") == 0 && left >= 4) {
      if (do_mount(a)) return 1;
      i += 5;
    } else if (strcmp(op, "mkdir") == 0 && left >= 2) {
      char *end;
      long mode = strtol(a[1], &end, 8);
      if (*a[1] == 0 || *end || mode < 0 || mode > 07777) return fail("mkdir", a[1], EINVAL);
      if (mkdir(a[0], 0700) != 0 || chmod(a[0], (mode_t)mode) != 0) return fail("mkdir", a[0], errno);
      i += 3;
    } else if (strcmp(op, "touch") == 0 && left >= 1) {
      int fd = open(a[0], O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) return fail("touch", a[0], errno);
      close(fd);
      i += 2;
    } else if (strcmp(op, "symlink") == 0 && left >= 2) {
      if (symlink(a[0], a[1]) != 0) return fail("symlink", a[1], errno);
      i += 3;
    } else if (strcmp(op, "rodisks") == 0 && left >= 1) {
      bind_disks(a[0]);
      i += 2;
    } else if (strcmp(op, "copyattr") == 0 && left >= 2) {
      struct stat st;
      if (stat(a[0], &st) != 0) return fail("copyattr", a[0], errno);
      if (chown(a[1], st.st_uid, st.st_gid) != 0 || chmod(a[1], st.st_mode & 07777) != 0) return fail("copyattr", a[1], errno);
      i += 3;
    } else {
      fprintf(stderr, "weft-mounts: unknown operation or missing arguments at \"%s\"\n", op);
      return 2;
    }
  }
  return 0;
}
