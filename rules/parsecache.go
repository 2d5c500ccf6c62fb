package rules

import (
	"regexp/syntax"
	"sync"
)

// Loading the stock rules parses each pattern several times over (its literals,
// its case-free form, its DFA, its prefilter, its union), and Go's parser checks
// nesting limits at every step: parsing was almost half of the start-up's CPU.
// parseRE parses a pattern once per load. Its tree is shared: callers only read
// it; the ones that rewrite a tree (loosenCounts, prune, caseFree) take their own
// copy with parseREMutable.
var parseCache sync.Map // pattern → *syntax.Regexp

func parseRE(src string) (*syntax.Regexp, error) {
	if v, ok := parseCache.Load(src); ok {
		return v.(*syntax.Regexp), nil
	}
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, err
	}
	v, _ := parseCache.LoadOrStore(src, re)
	return v.(*syntax.Regexp), nil
}

// parseREMutable is parseRE for a caller that rewrites the tree.
func parseREMutable(src string) (*syntax.Regexp, error) {
	re, err := parseRE(src)
	if err != nil {
		return nil, err
	}
	return copyRE(re), nil
}

// forgetParses empties the cache once a set is built: a running serve keeps none.
func forgetParses() { parseCache.Clear() }

func copyRE(re *syntax.Regexp) *syntax.Regexp {
	c := *re
	c.Sub0, c.Rune0 = [1]*syntax.Regexp{}, [2]rune{}
	if re.Sub != nil {
		c.Sub = make([]*syntax.Regexp, len(re.Sub))
		for i, s := range re.Sub {
			c.Sub[i] = copyRE(s)
		}
	}
	if re.Rune != nil {
		c.Rune = append([]rune(nil), re.Rune...)
	}
	return &c
}
