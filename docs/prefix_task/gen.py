# Data for the prefix-tuning evidence (docs/prefix.md): a data-to-text task and the base
# model's pre-training text. Run: python3 gen.py OUTDIR. Deterministic (random.Random(0)).
#
# Task: "name[X] food[Y] price[P] area[A] rating[R] =>" -> " X is a Y restaurant in the A with P
# prices and a(n) R rating." over 10 names x 6 foods x 3 x 2 x 3 = 1080 records; records whose
# (name index + food index) % 5 == 0 are held out (216: 120 test, 96 dev), so no held-out
# (name, food) pair is ever seen in the task's format or in pre-training.
#
# Pre-training text (base.txt) plays the part of web text about restaurants: 24 sentence
# templates built from phrase fragments, so that every phrase of the task's output ("X is a Y
# restaurant", "in the A", "with P prices", "and a(n) R rating", and the joins between them)
# occurs, in other combinations and orders, but the task's full template never does (checked
# below with a regular expression). Each document is one line (lm train --docs lines puts
# <|eos|> after it) and is a sentence alone or after a record in one of three notations:
# "Record: X; Y; P; A; R. Text:", a JSON-like object, or the task's own "name[X] ... =>" notation
# (web text has seen tables), always followed by one of the 24 templates, never the task's.
# With --unseen-notation the task's notation is left out of the pre-training text (records appear
# only as "Record: ..." and JSON-like objects), so the base has never seen the task's input form.
# Names: 1,000 made-up names (so a name must be copied, not memorised) and, for 1 document in
# 10, the task's 10 names with training (name, food) pairs only.
import json, os, random, re, sys

names = ["Aromi", "Bibimbap", "Cotto", "Zizzi", "Wildwood", "Clowns", "Strada", "Alimentum", "Fitzbillies", "Loch"]
foods = ["Italian", "French", "Chinese", "Indian", "Japanese", "English"]
prices = ["cheap", "moderate", "high"]
areas = ["city centre", "riverside"]
ratings = ["low", "average", "excellent"]

# The task's output template as a pattern (no pre-training line may contain a match).
TASK_RE = re.compile(r"\b\w+ is a \w+ restaurant in the [a-z ]+ with \w+ prices and an? \w+ rating\.")

# Phrase fragments of the task's output, recombined (the {art} is "a" or "an" before the rating).
TEMPLATES = [
    "{name} is a {food} restaurant in the {area}. It has {price} prices and {art} {rating} rating.",
    "{name} is a {food} restaurant with {price} prices and {art} {rating} rating in the {area}.",
    "{name} is a {food} restaurant in the {area} with {art} {rating} rating and {price} prices.",
    "In the {area}, {name} is a {food} restaurant with {price} prices and {art} {rating} rating.",
    "{name} is a {food} restaurant with {art} {rating} rating. Prices are {price} and it is in the {area}.",
    "With {price} prices and {art} {rating} rating, {name} is a {food} restaurant in the {area}.",
    "{name} serves {food} food in the {area} with {price} prices and {art} {rating} rating.",
    "{name} is a {food} restaurant. It is in the {area}, with {price} prices and {art} {rating} rating.",
    "There is a {food} restaurant in the {area} called {name}. It has {price} prices and {art} {rating} rating.",
    "{name} has {art} {rating} rating. It is a {food} restaurant in the {area} with {price} prices.",
    "Rated {rating}, {name} is a {food} restaurant with {price} prices in the {area}.",
    "{name} is in the {area}. It is a {food} restaurant with {price} prices and {art} {rating} rating.",
    "For {food} food in the {area}, try {name}: {price} prices and {art} {rating} rating.",
    "{name}, a {food} restaurant in the {area}, has {price} prices and {art} {rating} rating.",
    "In the {area} there is {name}, a {food} restaurant with {price} prices. It has {art} {rating} rating.",
    "{name} is a {food} restaurant. Prices are {price}, the rating is {rating}, and it is in the {area}.",
    "You can eat {food} food at {name} in the {area}. It has {price} prices and {art} {rating} rating.",
    "{name} is a {food} restaurant in the {area}. Its prices are {price} and its rating is {rating}.",
    "{name} serves {food} food. It is in the {area} and has {art} {rating} rating with {price} prices.",
    "The {food} restaurant {name} is in the {area}. It has {art} {rating} rating and {price} prices.",
    "{name} is a {food} restaurant with {art} {rating} rating in the {area}. It has {price} prices.",
    "{name} is a {price} place for {food} food in the {area}, rated {rating}.",
    "A {food} restaurant with {price} prices, {name} is in the {area} and has {art} {rating} rating.",
    "In the {area} you find {name}, which serves {food} food. Prices are {price} and it is rated {rating}.",
]

# The joins of the task's phrases, each present in some template (checked in check_corpus).
TASK_JOINS = [r"\w+ is a \w+ restaurant in the ", r"in the [a-z ]+ with \w+ prices",
              r"with \w+ prices and an? \w+ rating\.", r"\w+ is a \w+ restaurant with \w+ prices"]


LOW_SIZES = [2, 5, 10, 20, 50, 100]


def recs():
    for i, n in enumerate(names):
        for j, f in enumerate(foods):
            for p in prices:
                for a in areas:
                    for r in ratings:
                        yield i, j, dict(name=n, food=f, price=p, area=a, rating=r)


def task_input(d):
    return "name[%s] food[%s] price[%s] area[%s] rating[%s] =>" % (d["name"], d["food"], d["price"], d["area"], d["rating"])


def article(rating):
    return "an" if rating[0] in "aeiou" else "a"


def task_output(d):
    return " %s is a %s restaurant in the %s with %s prices and %s %s rating." % (
        d["name"], d["food"], d["area"], d["price"], article(d["rating"]), d["rating"])


def record_prefix(d, kind):
    if kind == "record":
        return "Record: %s; %s; %s; %s; %s. Text: " % (d["name"], d["food"], d["price"], d["area"], d["rating"])
    if kind == "json":
        return '{"name": "%s", "food": "%s", "price": "%s", "area": "%s", "rating": "%s"} ' % (
            d["name"], d["food"], d["price"], d["area"], d["rating"])
    if kind == "keyvalue":
        return task_input(d) + " "
    return ""


def document(d, rng, kinds):
    text = rng.choice(TEMPLATES).format(art=article(d["rating"]), **d)
    return record_prefix(d, rng.choice(kinds)) + text


def made_up_names(rng, n):
    cons, vows = "bcdfghklmnprstvz", "aeiou"
    out = set()
    while len(out) < n:
        k = rng.choice([2, 3])
        w = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(k))
        out.add(w.capitalize())
    return sorted(out - set(names))


def check_corpus(docs, test, unseen_notation):
    """The task's full template never occurs; each of its joins does; no held-out pair appears;
    with unseen_notation, the task's input notation never occurs either."""
    assert not any(TASK_RE.search(t) for t in docs), "a pre-training line has the task's template"
    if unseen_notation:
        assert not any("name[" in t or "=>" in t for t in docs), "a pre-training line has the task's notation"
    assert all(TASK_RE.fullmatch(task_output(d).strip()) for d in test), "TASK_RE misses the task"
    for join in TASK_JOINS:
        assert any(re.search(join, t) for t in docs), "no pre-training line has " + join
    held = {(d["name"], d["food"]) for d in test}
    for t in docs:
        for n, f in held:
            assert not (n in t and f in t), "held-out pair %s/%s in pre-training" % (n, f)


def write_jsonl(path, recs_):
    with open(path, "w") as f:
        for d in recs_:
            f.write(json.dumps({"input": task_input(d), "output": task_output(d)}) + "\n")


def main(outdir, unseen_notation=False):
    rng = random.Random(0)
    kinds = ["plain", "record", "json"] + ([] if unseen_notation else ["keyvalue"])
    os.makedirs(outdir, exist_ok=True)
    train, test = [], []
    for i, j, d in recs():
        (test if (i + j) % 5 == 0 else train).append(d)
    rng.shuffle(train)
    rng.shuffle(test)
    write_jsonl(os.path.join(outdir, "train.jsonl"), train)
    write_jsonl(os.path.join(outdir, "test.jsonl"), test[:120])
    pool = made_up_names(rng, 1000)
    docs = []
    for k in range(20000):
        if k % 10 == 0:
            d = dict(rng.choice(train))
        else:
            d = dict(name=rng.choice(pool), food=rng.choice(foods), price=rng.choice(prices),
                     area=rng.choice(areas), rating=rng.choice(ratings))
        docs.append(document(d, rng, kinds))
    check_corpus(docs, test, unseen_notation)
    with open(os.path.join(outdir, "base.txt"), "w") as f:
        f.write("\n".join(docs) + "\n")
    # dev: the other 96 held-out records (settings are chosen on dev, reported on test);
    # low data: 5 random subsets of N training examples per N (the paper averages 5 subsets).
    write_jsonl(os.path.join(outdir, "dev.jsonl"), test[120:])
    for n in LOW_SIZES:
        for k in range(5):
            write_jsonl(os.path.join(outdir, "low%d_%d.jsonl" % (n, k)), random.Random(1000 * n + k).sample(train, n))
    print("train %d, held out %d (evaluated 120), base documents %d, templates %d; "
          "checked: no base line matches the task template%s" % (len(train), len(test), len(docs), len(TEMPLATES),
                                                                 ", nor its notation" if unseen_notation else ""))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--unseen-notation"]
    bad = [a for a in args if a.startswith("-")]
    if bad or len(args) > 1:
        sys.exit(f"gen.py: expected [OUTDIR] [--unseen-notation], found {' '.join(bad or args)}")
    main(args[0] if args else ".", "--unseen-notation" in sys.argv[1:])
