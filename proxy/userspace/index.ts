export { ServiceAddressManager, SERVICE_DEVICE, LO_LABEL, type AddressDevice, type AddressManagerOptions } from './address-manager.ts'
export { EndpointPicker, type Target } from './endpoint-picker.ts'
export { canonicalIP, listenSpecs, serviceAddresses, type ListenSpec } from './listen-plan.ts'
export { ListenError, UserspaceProxier, type ListenFailure, type UserspaceProxierOptions } from './proxier.ts'
