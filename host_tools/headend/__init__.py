"""The head-end: `prepay headend` runs beside the station on its database and talks MQTT to
online meters (topics: docs/interfaces.md, Online meters). See service.py."""
