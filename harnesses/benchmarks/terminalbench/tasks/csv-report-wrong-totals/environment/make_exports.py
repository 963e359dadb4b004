"""The two exports: the old system's plain CSV, and the new system's (a UTF-8 byte-order
mark, CRLF line endings, every field quoted, commas inside names and as thousands
separators, a currency column), with the same customers."""

import sys
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
old = [("acme", "120.50"), ("globex", "75.25"), ("initech", "300.00"), ("acme", "99.50")]
(out / "2025-01.csv").write_text("customer,amount\n" + "".join(f"{c},{a}\n" for c, a in old))
new = [('"acme"', '"1,250.00"', "EUR"), ('"globex"', '"80.10"', "EUR"),
       ('"initech"', '"1,999.95"', "EUR"), ('"acme"', '"66.05"', "EUR"),
       ('"Wayne, Bruce"', '"400.00"', "EUR")]
text = "customer,amount,currency\r\n" + "".join(f"{c},{a},{cur}\r\n" for c, a, cur in new)
(out / "2025-02.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
