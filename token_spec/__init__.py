"""Token format v1: the one implementation shared by the meter and the host (see SPEC.md)."""
