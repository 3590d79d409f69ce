"""Running DOFS on this machine: moto as the AWS emulator, handlers in-process."""
