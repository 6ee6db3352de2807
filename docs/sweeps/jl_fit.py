"""Fits ln(count + 1) = n delta^2 / c_eff to a `gradlab sweep theory --preset jl_count_vs_n
--json` table (stdin), as the check fits its own counts: through the origin, on the uncapped
counts of at least 10 vectors; also a free line ln(count + 1) = a + n delta^2 / c_slope."""
import json
import math
import sys

d = json.load(sys.stdin)
delta, cap = 0.3, 5000
pts = []
for p in d["points"]:
    n = p["params"]["jl_near_orthogonal.n"]
    for c in p["per_seed"]:
        if 10 <= c < cap:
            pts.append((n * delta * delta, math.log(c + 1)))
sxx = sum(x * x for x, _ in pts)
b = sum(x * y for x, y in pts) / sxx
rss = sum((y - b * x) ** 2 for x, y in pts)
se_b = math.sqrt(rss / (len(pts) - 1) / sxx)
mx = sum(x for x, _ in pts) / len(pts)
my = sum(y for _, y in pts) / len(pts)
slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
print(f"{len(pts)} counts used; through the origin: c_eff = {1 / b:.2f} +- {se_b / b / b:.2f}")
print(f"free line: ln(count+1) = {my - slope * mx:.2f} + n delta^2 / {1 / slope:.2f}")
print(f"claimed c = 72 is {72 * b:.0f} times c_eff")
