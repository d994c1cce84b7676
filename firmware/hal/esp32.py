"""ESP32 hardware abstraction (filled in by the meter-application work)."""
