# Data for the prefix-tuning evidence (docs/prefix.md): a data-to-text task and the base
# model's pre-training text. Run: python3 gen.py OUTDIR. Deterministic (random.Random(0)).
#
# Task: "name[X] food[Y] price[P] area[A] rating[R] =>" -> " X is a Y restaurant in the A with P
# prices and a(n) R rating." over 10 names x 6 foods x 3 x 2 x 3 = 1080 records; records whose
# (name index + food index) % 5 == 0 are held out (216; 120 evaluated), so no held-out
# (name, food) pair is ever seen in the task's format or in pre-training.
#
# Pre-training text (base.txt), like web text under a real base model, teaches reading a record
# and writing about it, in OTHER notations and templates than the task's:
#  * 6,000 "Record: X; Y; P; A; R. Text: ..." documents with X drawn from 300 made-up names (so
#    the name must be copied, not memorised) in three sentence templates;
#  * the same documents for the task's 10 names, training (name, food) pairs only;
#  * the task's output template as plain sentences for training records only.
import json, os, random, sys

names = ["Aromi", "Bibimbap", "Cotto", "Zizzi", "Wildwood", "Clowns", "Strada", "Alimentum", "Fitzbillies", "Loch"]
foods = ["Italian", "French", "Chinese", "Indian", "Japanese", "English"]
prices = ["cheap", "moderate", "high"]
areas = ["city centre", "riverside"]
ratings = ["low", "average", "excellent"]


def recs():
    for i, n in enumerate(names):
        for j, f in enumerate(foods):
            for p in prices:
                for a in areas:
                    for r in ratings:
                        yield i, j, dict(name=n, food=f, price=p, area=a, rating=r)


def task_input(d):
    return "name[%s] food[%s] price[%s] area[%s] rating[%s] =>" % (d["name"], d["food"], d["price"], d["area"], d["rating"])


def task_output(d):
    art = "an" if d["rating"][0] in "ae" else "a"
    return " %s is a %s restaurant in the %s with %s prices and %s %s rating." % (
        d["name"], d["food"], d["area"], d["price"], art, d["rating"])


TEMPLATES = [
    "In the {area} you find {name}, which serves {food} food. Prices are {price} and it is rated {rating}.",
    "{name} serves {food} food in the {area}. It is {price} and its rating is {rating}.",
    "Rated {rating}, {name} is a {price} place for {food} food in the {area}.",
]


def record_doc(d, rng):
    rec = "Record: %s; %s; %s; %s; %s." % (d["name"], d["food"], d["price"], d["area"], d["rating"])
    return rec + " Text: " + rng.choice(TEMPLATES).format(**d)


def made_up_names(rng, n):
    cons, vows = "bcdfghklmnprstvz", "aeiou"
    out = set()
    while len(out) < n:
        k = rng.choice([2, 3])
        w = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(k))
        out.add(w.capitalize())
    return sorted(out - set(names))


def main(outdir):
    rng = random.Random(0)
    os.makedirs(outdir, exist_ok=True)
    train, test = [], []
    for i, j, d in recs():
        (test if (i + j) % 5 == 0 else train).append(d)
    rng.shuffle(train)
    rng.shuffle(test)
    with open(os.path.join(outdir, "train.jsonl"), "w") as f:
        for d in train:
            f.write(json.dumps({"input": task_input(d), "output": task_output(d)}) + "\n")
    with open(os.path.join(outdir, "test.jsonl"), "w") as f:
        for d in test[:120]:
            f.write(json.dumps({"input": task_input(d), "output": task_output(d)}) + "\n")
    with open(os.path.join(outdir, "train50.jsonl"), "w") as f:
        for d in train[:50]:
            f.write(json.dumps({"input": task_input(d), "output": task_output(d)}) + "\n")
    pool = made_up_names(rng, 300)
    docs = []
    for _ in range(6000):
        d = dict(name=rng.choice(pool), food=rng.choice(foods), price=rng.choice(prices),
                 area=rng.choice(areas), rating=rng.choice(ratings))
        docs.append(record_doc(d, rng))
    docs += [record_doc(d, rng) for d in train]
    docs += [task_output(d).strip() for d in train]
    rng.shuffle(docs)
    with open(os.path.join(outdir, "base.txt"), "w") as f:
        f.write("\n".join(docs) + "\n")
    print("train %d, held out %d (evaluated 120), base documents %d" % (len(train), len(test), len(docs)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
