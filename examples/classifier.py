"""genc's image classifier on Fashion-MNIST, trained from a Python loop over a DataLoader.

    PYTHONPATH=build/python /usr/bin/python3 examples/classifier.py [steps]
"""
import sys

import genc

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
net = genc.Classifier("convnet")
print(net)
opt = genc.AdamW(net.parameters(), lr=1e-3)
train = genc.DataLoader("fashion-mnist", batch_size=128, seed=1)
step = 0
while step < steps:
    for x, y in train:
        opt.zero_grad()
        loss = genc.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0 or step == steps:
            print(f"step {step}: loss {loss.item():.3f}")
        if step == steps:
            break
net.eval()
correct = total = 0
with genc.no_grad():
    for x, y in genc.DataLoader("fashion-mnist", train=False, batch_size=500, limit=2000):
        pred = [max(range(10), key=row.__getitem__) for row in net(x).tolist()]
        correct += sum(p == t for p, t in zip(pred, y))
        total += len(y)
print(f"test accuracy on {total} images: {correct / total:.3f}")
