# Summary of a folder of prefix-tune logs (tune.sh, run.sh): one line per run, then runs named
# PREFIX_low{N}_{k}_{rest} averaged over the subsets k (and all_{seed}_{rest} over seeds: mean exact
# match and BLEU-4), then each low-data setting's mean exact match by size N.
# Usage: python3 summary.py LOGDIR
import collections, glob, os, re, sys


def parse(path):
    r = {"name": os.path.basename(path)[:-4], "trained": "", "stored": "", "s": "", "exact": None, "bleu": None}
    for line in open(path, errors="replace"):
        m = re.match(r"eval \S+ exact match (\d+)/(\d+) = [\d.]+%, BLEU-4 ([\d.]+)", line)
        if m:
            r["exact"], r["n"], r["bleu"] = int(m[1]), int(m[2]), float(m[3])
        m = re.match(r"trained (\d+) of \d+ parameters \(([\d.]+)%\) in ([\d.]+) s", line)
        if m:
            r["trained"], r["s"] = "%s (%.2f%%)" % (m[1], float(m[2])), m[3]
        m = re.match(r"stored prefix: (\d+) numbers \(([\d.]+)%", line)
        if m:
            r["stored"] = "%s (%.2f%%)" % (m[1], float(m[2]))
    return r


def main(folder):
    runs = [parse(p) for p in sorted(glob.glob(os.path.join(folder, "*.log")))]
    print("run | trained (fraction) | stored | train s | exact | BLEU-4")
    groups = collections.OrderedDict()
    for r in runs:
        if r["exact"] is None:
            print("%s | (no eval line)" % r["name"])
            continue
        print("%s | %s | %s | %s | %d/%d = %.1f%% | %.1f" % (r["name"], r["trained"], r["stored"], r["s"], r["exact"],
                                                            r["n"], 100.0 * r["exact"] / r["n"], r["bleu"]))
        m = re.match(r"(.*(?:low\d+|all))_(\d+)_(.*)", r["name"])
        if m:
            groups.setdefault((m[1], m[3]), []).append(r)
    settings = collections.OrderedDict()
    if groups:
        print("\nmean over subsets: group | subsets | exact % (each) | mean exact % | mean BLEU-4")
        for (pre, rest), rs in groups.items():
            ex = [100.0 * r["exact"] / r["n"] for r in rs]
            print("%s_%s | %d | %s | %.1f | %.1f" % (pre, rest, len(rs), " ".join("%.1f" % e for e in ex),
                                                   sum(ex) / len(ex), sum(r["bleu"] for r in rs) / len(rs)))
            m = re.match(r"(.*)low(\d+)$", pre)
            if m:
                settings.setdefault((m[1], rest), {})[int(m[2])] = sum(ex) / len(ex)
        print("\nper setting, mean exact % by size: setting | size: mean exact % ... | mean over sizes")
        for (pre, rest), by in settings.items():
            print("%s%s | %s | %.1f" % (pre, rest, " ".join("%d: %.1f" % kv for kv in sorted(by.items())),
                                       sum(by.values()) / len(by)))


if __name__ == "__main__":
    main(sys.argv[1])
