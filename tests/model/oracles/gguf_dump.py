"""Oracle for the GGUF reader tests: dumps a GGUF file's metadata scalars, array lengths and tensor directory as JSON
using the reference `gguf` Python package (llama.cpp's gguf-py)."""
import json
import sys

from gguf import GGUFReader
from gguf.constants import GGUFValueType

r = GGUFReader(sys.argv[1])
meta = {}
for name, field in r.fields.items():
    if name.startswith("GGUF."):
        continue
    t = field.types[0] if field.types else None
    if t == GGUFValueType.ARRAY:
        meta[name] = {"array_len": len(field.data)}
    elif t == GGUFValueType.STRING:
        meta[name] = bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")
    else:
        v = field.parts[field.data[0]].tolist()
        meta[name] = v[0] if isinstance(v, list) else v
tensors = [[t.name, int(t.tensor_type), [int(d) for d in t.shape], int(t.data_offset), int(t.n_bytes)]
           for t in r.tensors]
json.dump({"meta": meta, "tensors": tensors}, sys.stdout)
