"""A throw-away Mosquitto broker on 127.0.0.1 for `prepay demo --online`, the tests and the
benchmarks (tests/support/mosquitto.py); never a utility's broker: its configuration lives in a
temporary folder and persistence is off. docs/online.md shows the same configuration for a
real broker.

Finds Debian's `mosquitto` and `mosquitto_passwd`. One rule when they are missing
(`find_mosquitto`): the test setup (`install=True`) installs the `mosquitto` package with
apt-get, as root, like tests/support/scratch_pg.py does for PostgreSQL; everything else (the
demo) stops with the one line that says how (INSTALL_HINT) rather than change the machine.
The broker listens on a free 127.0.0.1 port with a generated configuration:

- no anonymous clients; one username per meter (its meter number) and one head-end user, their
  passwords in a file made with `mosquitto_passwd`;
- an ACL that confines each meter to `prepay/v1/<its meter>/#` (pattern `%u`) and lets the
  head-end read and write every meter's topics.

    with LocalBroker(meters={"01234567890": "pw"}) as broker:
        broker.port, broker.headend_user, broker.headend_password

`LocalBroker(tls=True)` listens with TLS only: a CA and a server certificate for 127.0.0.1
and localhost are generated (python `cryptography`) in the broker's folder; `broker.ca_pem`
is the CA certificate a client needs, `broker.url` is then mqtts://.

`restart()` stops and starts the same broker on the same port (persistence off: a restart
loses retained and queued messages, the harshest case for the head-end and the meter).
"""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

TOPIC_ROOT = "prepay/v1"
HEADEND_USER = "headend"
INSTALL_HINT = "Mosquitto is not installed: install it with `apt-get install mosquitto` (as root)"


class BrokerUnavailable(RuntimeError):
    """Mosquitto cannot be installed or started here (the message says why)."""


def _run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)


def find_mosquitto(install=False, path=None):
    """(mosquitto, mosquitto_passwd) paths, looked up on `path` (default $PATH and /usr/sbin,
    where Debian puts the broker); if missing, installs the Debian package when `install`
    (the test setup), else BrokerUnavailable(INSTALL_HINT)."""
    if path is None:
        path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin"
    found = shutil.which("mosquitto", path=path)
    passwd = shutil.which("mosquitto_passwd", path=path)
    if found and passwd:
        return found, passwd
    if not install:
        raise BrokerUnavailable(INSTALL_HINT)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BrokerUnavailable(INSTALL_HINT + "; apt-get as root is unavailable here")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "mosquitto"]):
        done = _run(cmd, env=env)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise BrokerUnavailable(f"{' '.join(cmd)} failed: {' '.join(tail)}")
    return find_mosquitto(install=False, path=path)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_throwaway_pki():
    """(CA cert PEM, server cert PEM, server key PEM): a throw-away CA for one local broker,
    the server certificate valid for 127.0.0.1 and localhost for a day."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prepay throw-away CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def acl_text(headend_user=HEADEND_USER):
    """The broker ACL: each meter its own subtree, the head-end everything under the root."""
    return (
        f"user {headend_user}\n"
        f"topic readwrite {TOPIC_ROOT}/#\n"
        "\n"
        "# every other user is a meter: its username is its meter number\n"
        f"pattern readwrite {TOPIC_ROOT}/%u/#\n"
    )


class LocalBroker:
    """Start on enter, stop and delete on exit. `install`: see find_mosquitto."""

    def __init__(self, meters=None, headend_password=None, tls=False, install=False):
        self.tls = tls
        self.install = install
        self.ca_pem = None
        self.ca_file = None
        self.meters = dict(meters or {})  # meter number -> password
        self.headend_user = HEADEND_USER
        self.headend_password = headend_password or secrets.token_hex(8)
        self.host = "127.0.0.1"
        self.port = None
        self.dir = None
        self.proc = None

    @property
    def url(self):
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def _write_config(self, passwd_tool):
        pwfile = os.path.join(self.dir, "passwd")
        open(pwfile, "w").close()
        users = {self.headend_user: self.headend_password, **self.meters}
        for user, password in users.items():
            done = _run([passwd_tool, "-b", pwfile, user, password])
            if done.returncode != 0:
                raise BrokerUnavailable(f"mosquitto_passwd failed: {done.stderr.strip()}")
        aclfile = os.path.join(self.dir, "acl")
        with open(aclfile, "w") as f:
            f.write(acl_text(self.headend_user))
        conf = os.path.join(self.dir, "mosquitto.conf")
        tls = ""
        if self.tls:
            self.ca_pem, cert_pem, key_pem = make_throwaway_pki()
            names = {"ca.pem": self.ca_pem, "server.pem": cert_pem, "server.key": key_pem}
            for name, data in names.items():
                with open(os.path.join(self.dir, name), "wb") as f:
                    f.write(data)
                os.chmod(os.path.join(self.dir, name), 0o644)  # a test key: mosquitto reads it
            self.ca_file = os.path.join(self.dir, "ca.pem")
            tls = (
                f"cafile {self.ca_file}\n"
                f"certfile {os.path.join(self.dir, 'server.pem')}\n"
                f"keyfile {os.path.join(self.dir, 'server.key')}\n"
            )
        with open(conf, "w") as f:
            f.write(
                f"listener {self.port} {self.host}\n" + tls + "allow_anonymous false\n"
                f"password_file {pwfile}\n"
                f"acl_file {aclfile}\n"
                "persistence false\n"
                "log_dest stderr\n"
                "log_type error\nlog_type warning\nlog_type notice\n"
            )
        # mosquitto drops root privileges to its own user: it must read these files.
        for path in (self.dir, pwfile, aclfile, conf):
            os.chmod(path, 0o755 if path == self.dir else 0o644)
        return conf

    def start(self):
        self._tool, passwd_tool = find_mosquitto(self.install)
        self.dir = tempfile.mkdtemp(prefix="prepay-mqtt-")
        self.port = free_port()
        self._conf = self._write_config(passwd_tool)
        self._launch()
        return self

    def _launch(self):
        self._log = open(os.path.join(self.dir, "broker.log"), "ab")
        self.proc = subprocess.Popen(
            [self._tool, "-c", self._conf], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        log = open(os.path.join(self.dir, "broker.log")).read().strip().splitlines()[-3:]
        self.stop()
        raise BrokerUnavailable("mosquitto did not start: " + " | ".join(log))

    def _halt(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            self._log.close()

    def restart(self, down_s=0.0):
        """Stop the broker, wait `down_s`, start it again on the same port."""
        self._halt()
        time.sleep(down_s)
        self._launch()

    def stop(self):
        self._halt()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
