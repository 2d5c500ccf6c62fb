package rules

import (
	"regexp"
	"testing"
)

func TestUTF8Escapes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`s\xc3\xa9curit\xc3\xa9`, `sécurité`},
		{`b(?:e|[\xe9]|[\xc3][\xa9])n`, `b(?:e|[\xe9]|é)n`},
		{`(?:\xd0[\xb0\xb5\xbe]|\xd1[\x80\x81])+`, `(?:[аео]|[р-с])+`},
		{`(?:\xf0\x9d[\x90-\x9f][\x80-\xbf]){3,10}`, `(?:[𝐀-𝟿]){3,10}`},
		{`(?:\x9d|\xe2\x80[\x8b\x8c\x8d]|\xef\xbb\xbf)+`, "(?:\\x9d|[\u200b-\u200d]|\ufeff)+"},
		{`won(?!\xe2\x80\x99t)`, `won(?!’t)`},
		{`[\xe2][\x80][\xa6]{3}`, `[\xe2][\x80][\xa6]{3}`}, // the quantifier repeats the last byte
		{`\xbc\xba[. ]*\xc0\xce`, `\xbc\xba[. ]*\xc0\xce`}, // EUC-KR, not UTF-8
		{`[\x80-\xff]+`, `[\x80-\xff]+`},                   // any high byte: highBits' job
		{`[^\xc3\xa9]\xc3\xa9`, `[^\xc3\xa9]é`},
		{`[[:alpha:]\xc3\xa9]\xc3\xa9`, `[[:alpha:]\xc3\xa9]é`}, // a class that is no item is not read inside
		{`\\xc3\xa9`, `\\xc3\xa9`},                              // an escaped backslash, then one byte
		{`caf\xe9`, `caf\xe9`},                                  // Latin-1: one byte
		{`\xed\xa0\x80`, `\xed\xa0\x80`},                        // a surrogate: no character
		// A low byte after a lead byte continues no character: left out.
		{`(?:e|\xd3[\x07\xa9\xab])`, `(?:e|[өӫ])`},
		{`\xd3[\x07]`, `\xd3[\x07]`},             // nothing else: no character
		{`[\x07\xd3][\xa9]`, `[\x07\xd3][\xa9]`}, // a lead byte's set: as written
		// Lead bytes once, then a group whose alternatives end the characters.
		{`x[\xf0][\x9d](?:[\x90][\x88\xa2]|[\x91][\x96])y`, `x[𝐈𝐢𝑖]y`},
		{`(?:[iI]|[\xe1](?:[\xb8][\xac-\xad]|[\xbb][\x88]))`, `(?:[iI]|[Ḭ-ḭỈ])`},
		{`[\xe1](?:[\xb8][\xac]|[\xbb][\x88])+`, `[\xe1](?:[\xb8][\xac]|[\xbb][\x88])+`}, // quantified: as written
		{`[\xe1](?:[\xb8][\xac]|x)`, `[\xe1](?:[\xb8][\xac]|x)`},                         // an alternative of no bytes
		{`[\xe1](?:[\xb8]|[\xbb][\x88])`, `[\xe1](?:[\xb8]|[\xbb][\x88])`},               // one that ends no character
		{`\xc3\xa9(?:\xc3\xa9|\xc3\xa8)`, `é(?:é|è)`},                                    // a whole character before the group
	} {
		if got := utf8Escapes(c.in); got != c.want {
			t.Errorf("utf8Escapes(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// A rule spelling UTF-8 bytes matches the characters in decoded text, through
// both engines.
func TestUTF8EscapesMatch(t *testing.T) {
	for _, c := range []struct {
		rule, text string
		want       bool
	}{
		{`/\bb(?:e|[\xc3][\xa9])n(?:e|[\xc3][\xa9])ficiary/i`, "dear bénéficiary", true},
		{`/[a-z0-9\s](?:\xd0[\xb0\xb5\xbe]|\xd1[\x80\x81])+[a-z0-9]{1,8}(?:\xd0[\xb0\xb5\xbe]|\xd1[\x80\x81])+[a-z0-9\s]/i`, "buy p\u043ert\u0430ble now", true},
		{`/(?:\xf0\x9d[\x90-\x9f][\x80-\xbf]){3,10}/`, "\U0001D400\U0001D401\U0001D402", true},
		{`/(?:\xf0\x9d[\x90-\x9f][\x80-\xbf]){3,10}/`, "ABC", false},
	} {
		goRe, _, err := perlRegex(c.rule)
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		if got := goRe.MatchString(c.text); got != c.want {
			t.Errorf("%s on %q: %v", c.rule, c.text, got)
		}
		d := newDFA(goRe.String())
		if d == nil {
			t.Fatalf("%s: no DFA", c.rule)
		}
		if got, ok := d.match(c.text); !ok || got != c.want {
			t.Errorf("DFA %s on %q: %v (decided %v)", c.rule, c.text, got, ok)
		}
	}
}

func TestHighBits(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`[\x80-\xff]+`, `[\x80-\x{10FFFF}]+`},
		{`/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]/`, `/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{10FFFF}]/`},
		{`[^\x80-\xFF]`, `[^\x80-\x{10FFFF}]`},
		{`[\xa0-\xff]`, `[\xa0-\xff]`}, // Latin-1's letters
		{`\[\x80-\xff`, `\[\x80-\xff`}, // no class
	} {
		if got := highBits(c.in); got != c.want {
			t.Errorf("highBits(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	goRe, _, err := perlRegex(`/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]/`)
	if err != nil || !goRe.MatchString("Иван") || goRe.MatchString("Ivan") {
		t.Errorf("a name in Cyrillic needs MIME encoding: %v", err)
	}
}

// A look-alike tag's single high bytes are dropped: its sequences say which
// characters it means. A tag without sequences keeps them, read as Latin-1.
func TestTagValue(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`(?:[nN\xd1\xe7\xf1]|[\xc3][\x91\xb1])`, `(?:[nN]|[Ññ])`},
		{`(?:[aA]|[\xb6\xc1]|[\xc3][\xa0])`, `(?:[aA]|` + noMatch + `|à)`},
		{`(?:\xe7|[\xc3][\xa7])`, `(?:` + noMatch + `|ç)`},
		{`(?:[^\xe7]|[\xc3][\xa7])`, `(?:[^\xe7]|ç)`},         // negated: as written
		{`(?:[\x20-\xff]|[\xc3][\xa7])`, `(?:[\x20-\xff]|ç)`}, // a range from below 0x80 stays
		{`(?:[a\xa0-\xbf]|[\xc3][\xa7])`, `(?:[a]|ç)`},        // a range of high bytes goes
		{`(?:[\\\xe7]|[\xc3][\xa7])`, `(?:[\\]|ç)`},           // an escaped backslash stays
		{`endere[c\xe7]o`, `endere[c\xe7]o`},                  // no sequences: Latin-1
		{`[\$\xa5\xa3]`, `[\$\xa5\xa3]`},
	} {
		if got := tagValue(c.in); got != c.want {
			t.Errorf("tagValue(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

// __HIGHBITS's pattern, rewritten for characters, matches the texts whose
// UTF-8 bytes the pattern as written matches: every text of up to five
// characters from ASCII, a newline and characters of two, three and four bytes.
func TestHighByteRuns(t *testing.T) {
	const pattern = `(?:[\x80-\xff].?){4}`
	for _, flags := range []string{"", "s"} {
		chars, _, err := perlRegex("/" + pattern + "/" + flags)
		if err != nil {
			t.Fatal(err)
		}
		// The pattern on the bytes: each byte a character of its own (Latin-1).
		bytesRE := regexp.MustCompile(pattern)
		if flags != "" {
			bytesRE = regexp.MustCompile("(?" + flags + ")" + pattern)
		}
		alphabet := []string{"a", " ", "\n", "é", "中", "😀"}
		var walk func(s string, n int)
		walk = func(s string, n int) {
			latin := make([]rune, len(s))
			for i := 0; i < len(s); i++ {
				latin[i] = rune(s[i])
			}
			if got, want := chars.MatchString(s), bytesRE.MatchString(string(latin)); got != want {
				t.Errorf("/%s/%s on %q: %v, its bytes %v", pattern, flags, s, got, want)
			}
			if n < 5 {
				for _, c := range alphabet {
					walk(s+c, n+1)
				}
			}
		}
		walk("", 0)
	}
}
