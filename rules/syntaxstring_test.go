package rules

import (
	"regexp"
	"regexp/syntax"
	"testing"
)

// TestReString: what reString writes compiles to the same matches as the original.
func TestReString(t *testing.T) {
	patterns := []string{
		`(?i)free\s+money`, `^a.b$`, `(?s)a.b`, `(?m)^x$`, `[^a-z0-9\-\]]+`, `\bword\B`,
		`(?P<n>ab)+?c{2,5}d{3}e{1,}`, `a|b|(?:c|d)*`, `[\x00-\x1f\x{1F600}-\x{1F64F}]`, `\A\.\*\z`,
		`(?i)[a-c]é`, `x(?:)y`, `(?U)a+b`, `\$\d+(?:\.\d\d)?$`, `[[:alpha:]]+`,
	}
	texts := []string{"free  MONEY", "a\nb", "axb", "x\ny\nx", "Hello-World]", "word", "abababcc ddd e",
		"ccdd", "\x01😀", ".*", "Cé é", "xy", "aaab", "$12.50", "abc DEF", "", "a.b", "WORDS"}
	for _, p := range patterns {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		orig := regexp.MustCompile(p)
		got, err := regexp.Compile(reString(re))
		if err != nil {
			t.Fatalf("%s: reString %q: %v", p, reString(re), err)
		}
		for _, s := range texts {
			if a, b := orig.FindAllStringIndex(s, -1), got.FindAllStringIndex(s, -1); !equalIdx(a, b) {
				t.Errorf("%s on %q: %v, reString %q gives %v", p, s, a, reString(re), b)
			}
		}
	}
}

func equalIdx(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i][0] != b[i][0] || a[i][1] != b[i][1] {
			return false
		}
	}
	return true
}
