"""Test PKI: a CA, the server certificate, an admin client certificate, an unrelated CA."""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FILES = ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key", "other-ca.crt")


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn, org=None):
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _write_key(path, key):
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _ca(cn):
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(ca_key, ca_cert, subject, server, sans=()):
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(ca_cert.subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                      key_encipherment=True, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=False, crl_sign=False,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                               else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                        critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return key, b.sign(ca_key, hashes.SHA256())


def ensure_pki(state_dir, hosts=()):
    """Create the PKI in state_dir unless a complete one is already there."""
    paths = {f: os.path.join(state_dir, f) for f in FILES}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    ca_key, ca_cert = _ca("kube-api-server-test-ca")
    _write_key(paths["ca.key"], ca_key)
    _write_cert(paths["ca.crt"], ca_cert)
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    for h in hosts:
        try:
            ip = x509.IPAddress(ipaddress.ip_address(h))
            if ip not in sans:
                sans.append(ip)
        except ValueError:
            if h and x509.DNSName(h) not in sans:
                sans.append(x509.DNSName(h))
    k, c = _leaf(ca_key, ca_cert, _name("kube-apiserver"), True, sans)
    _write_key(paths["server.key"], k)
    _write_cert(paths["server.crt"], c)
    k, c = _leaf(ca_key, ca_cert, _name("client-admin", "system:masters"), False)
    _write_key(paths["client.key"], k)
    _write_cert(paths["client.crt"], c)
    _, other = _ca("unrelated-test-ca")
    _write_cert(paths["other-ca.crt"], other)
    return paths


def make_client_cert(state_dir, cn, orgs=(), prefix=None):
    """Issue an extra client certificate signed by the test CA (used by the control API)."""
    with open(os.path.join(state_dir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(state_dir, "ca.crt"), "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    k, c = _leaf(ca_key, ca_cert, x509.Name(attrs), False)
    prefix = prefix or f"client-{cn}"
    kp = os.path.join(state_dir, prefix + ".key")
    cp = os.path.join(state_dir, prefix + ".crt")
    _write_key(kp, k)
    _write_cert(cp, c)
    return cp, kp
