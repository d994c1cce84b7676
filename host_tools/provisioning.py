"""Provision a meter (a board or `prepay sim`) from a vending station.

Host level: this module composes the station (host_tools.vending) and the serial client
(host_tools.device.client), which never import each other (docs/architecture.md).

    prepay device provision --port P --meter 12345678903 [--home DIR] [--tariff home ...]

1. Registry: the meter's entry, or — for a meter not registered yet — a new entry from the
   options given (unit, scale, imp/kWh, tariff), made first so the registry checks every value
   before the meter is touched (a failed provisioning is then simply retried). Options that
   contradict an existing entry are refused.
2. Decoder key: derived from the station's vending key (passphrase from PREPAY_PASSPHRASE or
   a prompt) with token_spec.derive_decoder_key; it goes to the meter and nowhere else. The
   maintenance key (token_spec.keys.derive_maintenance_key, signs firmware updates) likewise.
   An STS meter (`meter add --format sts`) also gets `"format": "sts"` and the `"sts"` object
   of docs/interfaces.md, its STS decoder key derived from the station's STS vending key.
3. `provision` over the serial protocol, with the station's clock; then `hello` must report
   the meter provisioned under that number. A meter that is already provisioned is left alone.

Currency meters get the station tariff translated into the meter's own tariff (flat price or
inclining blocks in register units per kWh), because they apply it themselves; kWh meters were
charged at the vend and get none.
"""

from host_tools.device.update import maintenance_key
from host_tools.vending import StationError, meter_config, registry
from host_tools.vending.station import Station
from token_spec.epoch import meter_time

DEFAULTS = {"unit": "currency", "scale": 100, "imp_per_kwh": 1000}
DEFAULT_KEY_REVISION = 1


class ProvisionError(Exception):
    """Provisioning cannot go ahead or failed; one line saying why."""


def meter_tariff(tariff, scale):
    """The station tariff as the meter's tariff dict (register units per kWh)."""
    try:
        return meter_config.meter_tariff(tariff, scale)
    except StationError as exc:
        raise ProvisionError(str(exc)) from None


def registry_entry(station, number, options, extra=None):
    """The meter's registry row as a dict, registering it first from `options` if needed.

    `options` (unit, scale, imp_per_kwh, tariff; None = unset) must agree with an existing
    entry. Registering before the meter is touched means the registry checks every value
    first, and a failed provisioning is simply retried from the registry.
    Returns (row, registered_now).
    """
    number = registry.check_meter(number)

    def lookup(conn):
        try:
            return registry.meter_dict(registry.get_meter(conn, number))
        except StationError:
            return None

    row = station.read(lookup)
    if row is not None:
        clash = [
            f"--{key.replace('_', '-')} {value} (registered: {row[key]})"
            for key, value in options.items()
            if value is not None and value != row[key]
        ]
        if clash:
            raise ProvisionError(f"meter {number} is registered differently: {', '.join(clash)}")
        return row, False
    if options.get("tariff") is None:
        raise ProvisionError(
            f"meter {number} is not registered: give --tariff (and --unit, --scale, "
            "--imp-per-kwh unless the defaults fit) or run `prepay meter add` first"
        )
    new = dict(DEFAULTS, **{k: v for k, v in options.items() if v is not None})
    extra = extra or {}

    def add(conn):
        registry.add_meter(
            conn,
            number,
            new["unit"],
            new["scale"],
            new["imp_per_kwh"],
            new["tariff"],
            extra.get("customer"),
            extra.get("phone"),
            False,
            station.stamp(),
            key_revision=DEFAULT_KEY_REVISION,
        )

    station.write(add)
    return station.read(lookup), True


def meter_settings(station, row):
    """The `provision` command's settings for a registry row (without key material)."""
    settings = {
        "meter_number": row["number"],
        "key_revision": row["key_revision"],
        "unit": row["unit"],
        "scale": row["scale"],
        "pulses_per_kwh": row["imp_per_kwh"],
    }
    if row["unit"] == "currency":
        tariff = station.read(lambda conn: station.tariff(conn, row["tariff"]))
        settings["tariff"] = meter_tariff(tariff, row["scale"])
    return settings


def provision_args(station, row, settings, now=None):
    """The `provision` command's arguments: the settings, the v1 decoder key (signed config
    blobs) and, for an STS meter, `"format": "sts"` with its `"sts"` object (decoder key
    derived now from the station's STS vending key; docs/interfaces.md)."""
    from host_tools.vending import sts_meters

    decoder_key = station.decoder_key(row["number"], row["key_revision"])
    args = dict(settings, decoder_key=decoder_key.hex(), time=meter_time(now))
    # The key that signs this meter's firmware updates (host_tools/device/update.py).
    args["maintenance_key"] = maintenance_key(station.key, row["number"]).hex()
    sts = sts_meters.provision_settings(station, row["number"])
    if sts is not None:
        args.update(format="sts", sts=sts)
        settings["format"] = "sts"  # reported back (the key is not)
    return args


def provision_meter(port, number, home=None, options=None, config=None, prompt=None, now=None):
    """Provision the meter on `port` as `number`; returns what was done (no key material).

    `options`: unit, scale, imp_per_kwh, tariff, customer, phone (None = from the registry or
    the defaults). `config`: an initial meter config dict (docs/core.md), e.g. thresholds.
    """
    options = dict(options or {})
    extra = {k: options.pop(k, None) for k in ("customer", "phone")}
    try:
        station = Station(home, prompt=prompt)
    except StationError as exc:
        raise ProvisionError(str(exc)) from None
    try:
        row, registered = registry_entry(station, number, options, extra)
        settings = meter_settings(station, row)
        args = provision_args(station, row, settings, now)
        if config:
            args["config"] = config
        hello = _send_provision(port, args)
    except StationError as exc:
        raise ProvisionError(str(exc)) from None
    finally:
        station.close()
    if not hello.get("provisioned") or hello.get("meter_number") != row["number"]:
        raise ProvisionError(f"{port}: hello after provisioning says {hello}")
    return dict(
        settings,
        port=port,
        meter=row["number"],
        registered=registered,
        firmware=hello.get("firmware"),
        hal=hello.get("hal"),
    )


def _send_provision(port, args):
    """`provision` then `hello` on the meter; returns the hello result."""
    from host_tools.device.client import DeviceClient, DeviceError

    try:
        with DeviceClient(port) as client:
            if client.hello.get("provisioned"):
                raise ProvisionError(
                    f"the meter on {port} is already provisioned as "
                    f"{client.hello.get('meter_number')}; nothing changed"
                )
            client.request("provision", **args)
            return client.request("hello")
    except DeviceError as exc:
        raise ProvisionError(f"{port}: {exc}") from None
