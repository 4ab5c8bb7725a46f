# Memory hog: allocates and touches memory without end.
chunks = []
while True:
    chunks.append(bytearray(64 << 20))
