"""Expected sRGB values of the colour test charts, from littleCMS.

Run after `go run ./internal/cmd/mkcolor DIR` with Debian's python3-pil
(which links littleCMS 2): it converts every patch of every chart from its
profile to sRGB (perceptual intent, littleCMS's built-in sRGB) and writes
DIR/expected.json; it also writes the CMYK test JPEGs, which Go cannot
(Adobe's inverted CMYK, as PIL writes it; one without a profile; and,
through ImageMagick, the YCCK form of one).
"""
import json
import os
import subprocess
import sys

from PIL import Image, ImageCms

d = sys.argv[1]
charts = json.load(open(os.path.join(d, "charts.json")))
srgb = ImageCms.createProfile("sRGB")


def convert(mode, patches, name):
    im = Image.new(mode, (len(patches), 1))
    im.putdata([tuple(p) if len(p) > 1 else p[0] for p in patches])
    prof = ImageCms.getOpenProfile(os.path.join(d, name + ".icc"))
    out = ImageCms.profileToProfile(im, prof, srgb, renderingIntent=0, outputMode="RGB")
    return [list(out.getpixel((i, 0))) for i in range(len(patches))]


expected = {}
for name in ["display-p3-v4", "adobe-rgb-v2", "prophoto-v4", "srgb-table-v2", "p3-lut-v4"]:
    expected[name] = convert("RGB", charts["rgb"], name)
expected["gray-22-v2"] = convert("L", [[p[0]] for p in charts["rgb"]], "gray-22-v2")
for name in ["cmyk-lut16-v2", "cmyk-mab-v4"]:
    expected[name] = convert("CMYK", charts["cmyk"], name)
    chart = Image.new("CMYK", (128, 128))
    for i, p in enumerate(charts["cmyk"]):
        chart.paste(tuple(p), (i % 4 * 32, i // 4 * 32, i % 4 * 32 + 32, i // 4 * 32 + 32))
    icc = open(os.path.join(d, name + ".icc"), "rb").read()
    chart.save(os.path.join(d, name + ".jpeg"), quality=100, subsampling=0, icc_profile=icc)
    if name == "cmyk-lut16-v2":
        chart.save(os.path.join(d, "cmyk-no-profile.jpeg"), quality=100, subsampling=0)
        subprocess.run(["convert", os.path.join(d, name + ".jpeg"), "-define", "jpeg:colorspace=5",
                        "-quality", "100", "-sampling-factor", "1x1", os.path.join(d, name + "-ycck.jpeg")], check=True)

with open(os.path.join(d, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
