"""Build steps shared by `make test` and `prepay device deploy` (mpy-cross compilation)."""
