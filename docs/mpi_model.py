#!/usr/bin/env python3
"""The paper scaling model of docs/mpi.md: step time of `genc lm train` against the rank count for
data parallelism (DP) and for expert parallelism with DP on the rest (EP), from a measured 1-rank
compute time per step and the bytes each rank sends per step, at 1, 10 and 100 Gb/s.

  DP:  T(R) = C / R + 2 (R - 1) / R * 4 P / bw                    (ring all-reduce, no overlap)
  EP:  T(R) = C / R + 2 (R - 1) / R * 4 (P - Pe) / bw              (all-reduce of the non-experts)
              + 4 * (B T / R) * k * dim * 4 * (R - 1) / R * L / bw (all-to-all: dispatch and combine,
                                                                    forward and backward, per MoE layer)
P: parameters, Pe: routed-expert parameters, L: MoE layers (MTP's block included), k: experts per
token, B T: the global batch's tokens (fixed: 16 x 128). Latency and load imbalance are left out.
C: measured for tiny and small (1 thread); base and large scaled from small by active parameters
(6 x active x tokens FLOPs), so theirs are estimates. Usage: python3 docs/mpi_model.py C_TINY C_SMALL
"""
import sys

# name: (P, dim, n_layers, n_dense, mtp, E, k, moe_inter); P from `genc lm train --preset X --vocab V`
PRESETS = {
    "tiny": (264464, 64, 2, 1, 1, 8, 2, 32),
    "small": (2703680, 128, 4, 1, 1, 16, 2, 64),
    "base": (33189632, 256, 8, 1, 1, 32, 4, 128),
    "large": (337219712, 512, 12, 1, 1, 64, 6, 256),
}
TOKENS = 16 * 128


def shape(name):
    P, dim, layers, dense, mtp, E, k, inter = PRESETS[name]
    L = layers - dense + mtp
    Pe = L * E * 3 * dim * inter
    return P, Pe, L, k, dim, P - Pe * (1 - k / E)


def step(C, name, R, bw, ep):
    P, Pe, L, k, dim, _ = shape(name)
    f = (R - 1) / R
    if not ep:
        return C / R + 2 * f * 4 * P / bw
    return C / R + 2 * f * 4 * (P - Pe) / bw + 4 * (TOKENS / R) * k * dim * 4 * f * L / bw


def main():
    c_tiny, c_small = float(sys.argv[1]), float(sys.argv[2])
    C = {"tiny": c_tiny, "small": c_small}
    for n in ("base", "large"):
        C[n] = c_small * shape(n)[5] / shape("small")[5]
    print("| preset | P | routed experts | C (s, 1 rank) | EP sends fewer bytes than DP from |")
    print("|---|---|---|---|---|")
    for n in PRESETS:
        P, Pe, L, k, dim, _ = shape(n)
        # EP's bytes < DP's bytes  <=>  4 (BT/R) k dim L < 2 Pe  <=>  R > 2 BT k dim L / Pe
        r_star = 2 * TOKENS * k * dim * L / Pe
        print("| %s | %.3gM | %.3gM (%.0f%%) | %.3g%s | R > %.2f |" % (n, P / 1e6, Pe / 1e6, 100 * Pe / P, C[n],
              "" if n in ("tiny", "small") else " (est.)", r_star))
    print()
    for bw_gbit in (1, 10, 100):
        bw = bw_gbit * 1e9 / 8
        print("Step time (s) at %d Gb/s, DP / EP:\n" % bw_gbit)
        Rs = (1, 2, 4, 8, 16, 64)
        print("| preset | " + " | ".join("R = %d" % r for r in Rs) + " |")
        print("|---|" + "---|" * len(Rs))
        for n in PRESETS:
            E = PRESETS[n][5]  # EP needs at least one expert per rank
            cells = ["%.3g / %s" % (step(C[n], n, r, bw, False), "%.3g" % step(C[n], n, r, bw, True) if r <= E else "-")
                     for r in Rs]
            print("| %s | %s |" % (n, " | ".join(cells)))
        print()


if __name__ == "__main__":
    main()
