#!/bin/bash
# report_html.sh - the estimate's HTML page (a --compare report) rendered
# by a real browser: headless Chromium must load it with no network, and
# the screenshot must show a page, not a blank or an error.
#
# The page comes from tests/unit/test_report's MG_REPORT_HTML hook (the
# same renderer `migrate estimate --html` calls).  The page and its
# screenshot are kept as artifacts in $MG_ARTIFACTS (default: the build folder, else the current
# folder, which is the build folder under `make check`).
source "$MG_SRCDIR/tests/lib.sh"

builddir=$(dirname "$MIGRATE")
demo=$builddir/tests/unit/test_report
art=${MG_ARTIFACTS:-${MG_BUILDDIR:-$PWD}}
[ -x "$demo" ] || t_skip_all "no $demo: run 'make check' (it builds the unit tests)"

browser=
find_browser() {
	local b
	for b in chromium chromium-browser google-chrome; do
		if command -v "$b" >/dev/null 2>&1; then browser=$b; return 0; fi
	done
	return 1
}
if ! find_browser; then
	# Debian's package; only as root, and quietly: this is a test
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get install -y -qq chromium >"$MG_TMP/apt.log" 2>&1 || true
	fi
	find_browser || t_skip_all "chromium is not installed and cannot be (apt-get install chromium)"
fi

mkdir -p "$art"
html=$art/report_compare.html
png=$art/report_compare.png
rm -f "$html" "$png"

t_check "the renderer writes a --compare page" env MG_REPORT_HTML="$html" "$demo"
t_grep "the page names the cheapest target first" "class='best'><td>backblaze-b2" "$html"
t_grep "plan text is escaped" "ml-datasets &lt;q3&gt; &amp; &#39;eval&#39;" "$html"
if grep -Eq "(src|href)=|url\(|@import|<script" "$html"; then
	t_fail "the page is self-contained" "found an external reference or a script"
else
	t_ok "the page is self-contained"
fi

# No network, no profile: everything the page shows must be inside it.
profile=$(mktemp -d "$MG_TMP/chromium.XXXXXX")
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
	--no-first-run --disable-background-networking --disable-component-update \
	--disable-sync --user-data-dir="$profile" --screenshot="$png" \
	--window-size=1200,1600 "file://$html" >"$MG_TMP/chromium.log" 2>&1
if [ -s "$png" ]; then
	t_ok "chromium wrote a screenshot"
else
	t_fail "chromium wrote a screenshot" "$(tail -5 "$MG_TMP/chromium.log")"
	t_done
fi

# Decode the PNG (zlib and the filter bytes, nothing else needed) and
# count colours: a blank or error page has a handful, the report's charts
# and text have hundreds; the bar colours must be there.
python3 - "$png" >"$MG_TMP/png.out" 2>&1 <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a png'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), 'unexpected png format %d/%d' % (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours = set()
i = 0
for y in range(h):
    ft = raw[i]; i += 1
    line = bytearray(raw[i:i + stride]); i += stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if ft == 1: line[x] = (line[x] + a) & 255
        elif ft == 2: line[x] = (line[x] + b) & 255
        elif ft == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif ft == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[x] = (line[x] + pr) & 255
    for x in range(0, stride, bpp):
        colours.add(bytes(line[x:x + 3]))
    prev = line
print('size %dx%d colours %d' % (w, h, len(colours)))
# the bars: egress red #d1495b and storage blue #30638e
need = {'egress': b'\xd1\x49\x5b', 'storage': b'\x30\x63\x8e'}
missing = [k for k, v in need.items() if v not in colours]
print('missing bar colours: %s' % (' '.join(missing) or 'none'))
sys.exit(0 if len(colours) >= 50 and not missing else 1)
EOF
if [ $? -eq 0 ]; then
	t_ok "the screenshot shows the report ($(head -1 "$MG_TMP/png.out"))"
else
	t_fail "the screenshot shows the report" "$(cat "$MG_TMP/png.out")"
fi
echo "# artifacts: $html $png"
t_done
