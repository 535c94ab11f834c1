"""Running on a Raspberry Pi: install (systemd unit, udev rules, user), the systemd watchdog,
`coldchain status`, and backup and restore of the stores."""
