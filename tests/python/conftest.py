"""Fixtures of the Python module's tests: the gridtree binary, a generated
Jiangmen image, an engine on it, and servers started per test module.

ctest sets PYTHONPATH (the build tree's package) and GRIDTREE_BIN."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import gridtree


@pytest.fixture(scope="session")
def gridtree_bin():
    path = os.environ.get("GRIDTREE_BIN")
    if not path:
        pytest.fail("GRIDTREE_BIN is not set: run the tests through ctest (scripts/test.sh)")
    return path


@pytest.fixture(scope="session")
def jiangmen(tmp_path_factory, gridtree_bin):
    """The Jiangmen image, generated from the project's data/ once per run."""
    folder = tmp_path_factory.mktemp("jiangmen")
    geojson, image = folder / "jiangmen.geojson", folder / "jiangmen.gtimg"
    subprocess.run([gridtree_bin, "generate", "--out", str(geojson)], check=True, capture_output=True)
    subprocess.run([gridtree_bin, "snapshot", str(geojson), "--out", str(image)], check=True, capture_output=True)
    return image


@pytest.fixture(scope="session")
def engine(jiangmen):
    return gridtree.open(str(jiangmen), threads=2)


@pytest.fixture(scope="session")
def leaves(engine):
    """Every leaf with its outline: the oracle's side of the comparisons."""
    return engine.level("leaf")


class Server:
    """A `gridtree serve` child process on a free loopback port."""

    def __init__(self, gridtree_bin, image, folder, token="secret"):
        self.token_file = Path(folder) / "token"
        self.token_file.write_text(token)
        self.token = token
        self.log = Path(folder) / "serve.log"
        self.process = subprocess.Popen(
            [gridtree_bin, "serve", str(image), "--listen", "127.0.0.1:0", "--threads", "2",
             "--writer-token-file", str(self.token_file)],
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        self.address = None
        for _ in range(400):
            match = re.search(r"proto=capnp addr=(127\.0\.0\.1:\d+)", self.log.read_text())
            if match:
                self.address = match.group(1)
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.025)
        if not self.address:
            self.stop()
            pytest.fail("gridtree serve did not start:\n" + self.log.read_text())

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server(gridtree_bin, jiangmen, tmp_path):
    s = Server(gridtree_bin, jiangmen, tmp_path)
    yield s
    s.stop()
