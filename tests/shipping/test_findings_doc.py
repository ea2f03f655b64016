"""docs/findings.md: the one table of finding codes the reports read (it is compiled into the
binary). Every finding code of operator/core/reasons.h has a row and a section; every row links
to its section, names known steps and severities; no code section is left without a row. A
code added to reasons.h fails here until its row (| [`Code`](#code) | severity | Step |
summary |) and its `## `Code`` section are written."""
import re
import unittest

from _support import REPO

DOC = REPO / "docs" / "findings.md"
REASONS = REPO / "operator" / "core" / "reasons.h"
ROW = re.compile(r"^\| \[`([^`]+)`\]\(#([^)]+)\) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", re.M)
SEVERITIES = {"info", "warning", "escalation", "error", "info (skip)"}


def namespace(name):
    text = REASONS.read_text()
    body = re.search(r"namespace %s \{(.*?)\n\}" % name, text, re.S).group(1)
    return re.findall(r'inline constexpr char k(\w+)\[\] = "(\w*)";', body)


def anchor(heading):
    """GitHub's slug: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


class FindingsDocTest(unittest.TestCase):
    def setUp(self):
        self.text = DOC.read_text()
        self.rows = {m.group(1): m.groups()[1:] for m in ROW.finditer(self.text)}
        self.sections = re.findall(r"^## (.+)$", self.text, re.M)

    def test_every_code_has_a_row_and_a_section(self):
        codes = [value for key, value in namespace("finding") if key != "LintPrefix"]
        self.assertGreater(len(codes), 40)
        for code in codes:
            with self.subTest(code=code):
                self.assertIn(code, self.rows)
                self.assertIn(f"`{code}`", self.sections)
        prefix = dict(namespace("finding"))["LintPrefix"]
        self.assertIn(prefix + "<Rule>", self.rows)

    def test_rows_link_their_section_and_name_known_steps(self):
        steps = {value for _, value in namespace("condition")}
        for code, (link, severity, step_cell, summary) in self.rows.items():
            with self.subTest(code=code):
                self.assertEqual(link, anchor(f"`{code}`"))
                self.assertIn(f"`{code}`", self.sections)
                self.assertIn(severity.strip(), SEVERITIES)
                for step in step_cell.split("/"):
                    self.assertIn(step.strip(), steps)
                self.assertTrue(summary.strip().endswith("."), summary)

    def test_every_code_section_has_a_row(self):
        # Other sections (prose about how the checks work) may stand around the table.
        code_sections = [h for h in self.sections if re.fullmatch(r"`[^`]+`", h)]
        self.assertGreater(len(code_sections), 40)
        for heading in code_sections:
            with self.subTest(section=heading):
                self.assertIn(heading.strip("`"), self.rows)

    def test_no_raw_string_delimiter(self):
        # cmake/embed_text.cmake embeds the file as a C++ raw string.
        self.assertNotIn(')EMBED"', self.text)


if __name__ == "__main__":
    unittest.main()
