"""Building the sandbox image, or a harness's, from the Dockerfile shipped in its package.

The build context is a temporary folder holding the package's Dockerfile, its `image/` files
and `benchdock-ca.crt`: the CA certificates this host trusts. Behind a TLS-intercepting proxy
(corporate networks, this project's CI) the host trusts the proxy's CA and a build container
does not, so npm and pip inside the build fail on "self signed certificate in certificate
chain". The Dockerfiles copy the file only into a stage whose installed files (not the file)
reach the final image: the Docker SDK drives the classic builder, which has no build secrets.

A harness image records what it can run in /etc/benchdock-toolchains.json (each toolchain
tried on a small exercise during the build). The image is tagged only when nothing is
missing, or when the caller allows it; otherwise the build fails naming what is missing and
why, so a missing toolchain is an error of the build, not a quiet verdict of every later run.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import ssl
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from benchdock.harnesses.sandbox.base import SandboxError

log = logging.getLogger("benchdock.sandbox")

RECORD = "/etc/benchdock-toolchains.json"
CA_FILE = "benchdock-ca.crt"
# Debian/Ubuntu, Fedora/RHEL, Alpine/macOS: where the system's trusted CAs are bundled
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
              "/etc/ssl/cert.pem")
# what each harness image must be able to run (a record that lacks one counts it missing)
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----",
                  re.DOTALL)
LOG_TAIL = 30  # lines of the build log an error shows


@dataclass
class BuiltImage:
    tag: str
    image_id: str
    ca_sources: list[str]
    record: dict[str, Any] | None = None
    missing: dict[str, str] = field(default_factory=dict)  # toolchain -> why


def host_ca_certificates(env: dict[str, str] | None = None) -> tuple[bytes, list[str]]:
    """The certificates (PEM, certificates only: never a key that shares a file with them)
    of the host's CA bundle plus any extra CA files named by BENCHDOCK_BUILD_CA or
    NODE_EXTRA_CA_CERTS, and the files they came from. Empty when the host has none, or
    when BENCHDOCK_BUILD_CA=none asks for the image's own CA store only."""
    env = dict(os.environ if env is None else env)
    if env.get("BENCHDOCK_BUILD_CA") == "none":  # the image's own CA store only
        return b"", []
    bundle = env.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().cafile
    candidates = [bundle] if bundle else []
    candidates += [p for p in CA_BUNDLES if p != bundle]
    files = [next((p for p in candidates if Path(p).is_file()), "")]
    files += [env.get("BENCHDOCK_BUILD_CA", ""), env.get("NODE_EXTRA_CA_CERTS", "")]
    seen: set[bytes] = set()
    certs: list[bytes] = []
    used: list[str] = []
    for name in dict.fromkeys(f for f in files if f):
        try:
            found = _PEM.findall(Path(name).read_bytes())
        except OSError as exc:
            raise SandboxError(f"cannot read the CA certificates in {name}: {exc}") from exc
        if found:
            used.append(name)
        for cert in found:
            if cert not in seen:
                seen.add(cert)
                certs.append(cert)
    return b"\n".join(certs) + (b"\n" if certs else b""), used


def make_context(package: str, dest: Path, ca: bytes) -> None:
    """`package`'s Dockerfile and image/ folder, and the CA file, in `dest`."""
    src = resources.files(package)
    with resources.as_file(src) as path:
        shutil.copy2(path / "Dockerfile", dest / "Dockerfile")
        if (path / "image").is_dir():
            shutil.copytree(path / "image", dest / "image")
    for file in (dest / "image").rglob("*") if (dest / "image").is_dir() else ():
        if file.is_file():  # COPY keeps modes: scripts executable whatever the install kept
            file.chmod(0o755 if file.read_bytes()[:2] == b"#!" else 0o644)
    (dest / CA_FILE).write_bytes(ca)


def missing_toolchains(record: dict[str, Any] | None, expected: tuple[str, ...]) -> dict[str, str]:
    """Each expected toolchain the record does not show as working, with the reason."""
    if not expected:
        return {}
    if record is None:
        return {name: f"the image has no {RECORD}" for name in expected}
    chains = record.get("toolchains")
    chains = chains if isinstance(chains, dict) else {}
    out: dict[str, str] = {}
    for name in expected:
        entry = chains.get(name)
        if not isinstance(entry, dict):
            out[name] = str(record.get("error") or "not in the image's toolchain record")
        elif entry.get("ok") is not True:
            out[name] = str(entry.get("error") or "not working (no reason recorded)")
    return out


def _split_tag(tag: str) -> tuple[str, str | None]:
    repo, sep, name = tag.rpartition(":")
    if sep and "/" not in name:
        return repo, name
    return tag, None


def _read_record(client: Any, image_id: str) -> dict[str, Any] | None:
    """The image's toolchain record, copied out of a created (never started) container:
    nothing runs, so no log race can lose it."""
    import docker.errors

    container = client.api.create_container(image_id, command=["true"],
                                            network_disabled=True)
    try:
        stream, _ = client.api.get_archive(container["Id"], RECORD)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            out = member.read() if member else b""
    except docker.errors.NotFound:  # an image without a record (the sandbox image)
        return None
    finally:
        client.api.remove_container(container["Id"], force=True)
    try:
        data = json.loads(out)
    except ValueError:
        return {"toolchains": {}, "error": f"{RECORD} is not JSON: {out[:200]!r}"}
    return data if isinstance(data, dict) else None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
CA_HINT = ("(The build container does not trust a certificate on the way to the registry, as "
           "behind a TLS-intercepting proxy: benchdock sends the host's CA bundle; if the "
           "proxy's CA is not in it, name its file in BENCHDOCK_BUILD_CA.)")


def _failure(tag: str, detail: str, lines: list[str]) -> str:
    tail = lines[-LOG_TAIL:]
    hint = f"\n{CA_HINT}" if any("CERTIFICATE" in line.upper() for line in tail) else ""
    return f"building {tag} failed: {detail}\nthe build's last lines:\n" + "\n".join(tail) + hint


def _build(client: Any, context: Path, tag: str, buildargs: dict[str, str]) -> str:
    """Runs the build, logging it as it goes; the new image's id."""
    lines: list[str] = []
    image_id = ""
    try:
        stream = client.api.build(path=str(context), buildargs=buildargs, rm=True,
                                  forcerm=True, decode=True)
        for chunk in stream:
            if "stream" in chunk:
                for line in _ANSI.sub("", str(chunk["stream"])).splitlines():
                    if line.strip():
                        lines.append(line)
                        log.info(line)
                        m = re.match(r"Successfully built ([0-9a-f]+)$", line.strip())
                        image_id = m.group(1) if m else image_id
            if isinstance(chunk.get("aux"), dict) and chunk["aux"].get("ID"):
                image_id = str(chunk["aux"]["ID"])
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise SandboxError(_failure(tag, str(detail), lines))
    except SandboxError:
        raise
    except Exception as exc:
        raise SandboxError(_failure(tag, str(exc), lines)) from exc
    if not image_id:
        raise SandboxError(f"building {tag}: the engine named no image\n" + "\n".join(lines[-LOG_TAIL:]))
    return image_id


def build_image(tag: str, base: str | None = None,
                package: str = "benchdock.harnesses.sandbox",
                allow_missing: bool = False, expected: tuple[str, ...] = ()) -> BuiltImage:
    """Build `package`'s Dockerfile (the sandbox's, or a harness's) and tag it `tag` when the
    image has everything it must (or `allow_missing`: then `missing` says what it lacks)."""
    ca, ca_sources = host_ca_certificates()
    log.info("building %s from %s's Dockerfile; CA certificates for the build: %s", tag,
             package, ", ".join(ca_sources) or "none found on this host (the image's own)")
    with tempfile.TemporaryDirectory(prefix="benchdock-build-") as tmp:
        make_context(package, Path(tmp), ca)
        built = build_context(Path(tmp), tag, {"BASE": base} if base else {},
                              expected, allow_missing)
    built.ca_sources = ca_sources
    return built


def build_context(context: Path, tag: str, buildargs: dict[str, str],
                  expected: tuple[str, ...], allow_missing: bool) -> BuiltImage:
    """Build the folder `context`; tag the image unless it lacks an `expected` toolchain
    and that is not allowed (then the error names each one and why)."""
    from benchdock.harnesses.sandbox.docker_backend import docker_client

    client = docker_client(timeout=3600)  # a toolchain image takes minutes
    image_id = _build(client, context, tag, buildargs)
    record = _read_record(client, image_id) if expected else None
    built = BuiltImage(tag=tag, image_id=image_id, ca_sources=[], record=record,
                       missing=missing_toolchains(record, expected))
    if built.missing and not allow_missing:
        lines = "\n".join(f"  {name}: {why}" for name, why in built.missing.items())
        if any("CERT" in why.upper() for why in built.missing.values()):
            lines += f"\n{CA_HINT}"
        raise SandboxError(
            f"building {tag}: the image lacks {len(built.missing)} toolchain(s), so their "
            f"exercises could not be scored:\n{lines}\nThe image was left untagged "
            f"({image_id[:19]}). Fix the cause and build again, or pass --allow-missing to "
            "keep an image without them (their exercises then become 'toolchain missing' "
            "verdicts).")
    repo, name = _split_tag(tag)
    client.api.tag(image_id, repo, name)
    if built.missing:
        log.warning("built %s WITHOUT %s (--allow-missing): %s", tag, ", ".join(built.missing),
                    "; ".join(f"{k}: {v}" for k, v in built.missing.items()))
    else:
        log.info("built %s (%s)", tag, image_id[:19])
    return built
