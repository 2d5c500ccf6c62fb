package score

// Scanners for the relays named in Received headers. They find exactly what the
// regular expressions in received_test.go find (and a fuzz test holds them to it),
// but without the regexp package's backtracker, which was a quarter of all
// tokenizing time on corpus mail: a message has up to eight Received lines, each
// searched twice.

// dottedQuads calls fn with the four numbers of each of the first n dotted quads in s,
// as `\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b` finds them.
func dottedQuads(s string, n int, fn func(q [4]string)) {
	for i := 0; i < len(s) && n > 0; i++ {
		if !isDigit(s[i]) || (i > 0 && isWordByte(s[i-1])) {
			continue
		}
		var q [4]string
		j := i
		for k := 0; k < 4; k++ {
			start := j
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			// A run of more than three digits fails: no shorter prefix is followed
			// by the dot or the word boundary that must come next.
			if j-start > 3 {
				j = -1
				break
			}
			q[k] = s[start:j]
			if k < 3 {
				if j == len(s) || s[j] != '.' || j+1 == len(s) || !isDigit(s[j+1]) {
					j = -1
					break
				}
				j++
			}
		}
		if j < 0 || (j < len(s) && isWordByte(s[j])) {
			continue
		}
		fn(q)
		n--
		i = j - 1 // the next search starts where this match ended
	}
}

// relayHosts calls fn with each of the first n host names that follow "from" or
// "by" in s, as `(?i)\b(?:from|by)\s+([a-z0-9][a-z0-9.-]*\.[a-z]{2,})` finds them:
// the longest name that ends in a dot and two or more letters.
func relayHosts(s string, n int, fn func(host string)) {
	for i := 0; i < len(s) && n > 0; i++ {
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		j := i
		switch {
		case hasPrefixFold(s[i:], "from"):
			j += 4
		case hasPrefixFold(s[i:], "by"):
			j += 2
		default:
			continue
		}
		ws := j
		for j < len(s) && isRESpace(s[j]) {
			j++
		}
		if j == ws || j == len(s) || !isAlnum(s[j]) {
			continue
		}
		start, end := j, j+1
		for end < len(s) && (isAlnum(s[end]) || s[end] == '.' || s[end] == '-') {
			end++
		}
		// The last dot after the first character with two letters after it; the
		// name then takes every letter that follows.
		stop := -1
		for d := end - 3; d > start; d-- {
			if s[d] == '.' && isLetter(s[d+1]) && isLetter(s[d+2]) {
				stop = d + 3
				for stop < end && isLetter(s[stop]) {
					stop++
				}
				break
			}
		}
		if stop < 0 {
			continue
		}
		fn(s[start:stop])
		n--
		i = stop - 1
	}
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }

// isWordByte is \w: what \b tells from the rest.
func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }

// isRESpace is the regexp package's \s.
func isRESpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}
