"""Pushes a random float32 feature vector for each of N assets through the grid's HTTP API (PUT /features/A<i>),
as the peer's seed.py stores them in Redis. usage: seed.py N_ASSETS N_FEATURES PORT"""
import http.client, json, random, sys

n_assets, n_features, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n_assets):
    body = json.dumps([rng.gauss(0, 1) for _ in range(n_features)])
    conn.request("PUT", f"/features/A{i}", body, {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 204:
        sys.exit(f"PUT /features/A{i}: HTTP {r.status}")
print("seeded", n_assets)
