"""Writes an OCI image archive of one uncompressed layer (a rootfs
directory), which `ctr image import` reads: oci-archive.py ROOTFS OUT NAME.
There is no registry here; the benchmarks build their image with this."""
import hashlib
import io
import json
import sys
import tarfile

rootfs, out, name = sys.argv[1:4]
blobs = {}


def blob(data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"digest": digest, "size": len(data)}


layer_bytes = io.BytesIO()
with tarfile.open(fileobj=layer_bytes, mode="w") as t:
    t.add(rootfs, arcname=".")
layer = blob(layer_bytes.getvalue())
config = blob(json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
}).encode())
manifest = blob(json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
}).encode())
index = {
    "schemaVersion": 2,
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
        "annotations": {"io.containerd.image.name": name},
        "platform": {"architecture": "amd64", "os": "linux"},
    }],
}
with tarfile.open(out, mode="w") as t:
    def add(path: str, data: bytes) -> None:
        info = tarfile.TarInfo(path)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    add("index.json", json.dumps(index).encode())
    for digest, data in blobs.items():
        add("blobs/sha256/" + digest.split(":")[1], data)
