"""Real storage servers on 127.0.0.1 for the export tests, each started as a subprocess on a free port:
moto's standalone S3 server, gcp-storage-emulator and Azurite (from the npm registry, installed once into
.data/azurite; skipped only when `node` is absent)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
AZURITE_VERSION = "3.37.0"
AZURITE_DIR = ROOT / ".data" / "azurite"
# Azurite's well-known development account (public, in Microsoft's documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"no server on 127.0.0.1:{port} after {seconds}s")


class Server:
    def __init__(self, args, port, env=None, cwd=None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        wait_for(port, self.proc)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def s3_server():
    port = free_port()
    server = Server([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], port)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server():
    port = free_port()
    server = Server(
        [
            str(BIN / "gcp-storage-emulator"),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
        ],
        port,
    )
    yield server
    server.stop()


def azurite_command() -> Path | None:
    node = shutil.which("node")
    if node is None:
        return None
    blob = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
    if not blob.exists():
        AZURITE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(AZURITE_DIR), f"azurite@{AZURITE_VERSION}"],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    return blob


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory):
    blob = azurite_command()
    if blob is None:
        pytest.skip("node is not installed: Azurite (the Azure Storage emulator) cannot run")
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    server = Server(
        [str(blob), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
         "--skipApiVersionCheck", "--silent"],
        port, cwd=workdir,
    )  # fmt: skip
    server.blob_endpoint = f"{server.url}/{AZURITE_ACCOUNT}"
    yield server
    server.stop()
