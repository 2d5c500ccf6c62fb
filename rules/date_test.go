package rules

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseDateRE is parseDate as it was written first, with SpamAssassin's regexps
// (Util.pm's parse_rfc822_date): the reference parseDate is held to.
func parseDateRE(date string) (int64, bool) {
	s := " " + strings.Join(strings.Fields(reDateComma.ReplaceAllString(date, " ")), " ") + " "
	var day, year, mon int
	cut := func(loc []int) { s = s[:loc[0]] + " " + s[loc[1]:] }
	if m := reDate1.FindStringSubmatchIndex(s); m != nil {
		day, _ = strconv.Atoi(s[m[2]:m[3]])
		mon = monthIndex(s[m[4]:m[5]])
		year, _ = strconv.Atoi(s[m[6]:m[7]])
		cut(m)
	} else if m := reDate2.FindStringSubmatchIndex(s); m != nil {
		mon = monthIndex(s[m[2]:m[3]])
		day, _ = strconv.Atoi(s[m[4]:m[5]])
		year, _ = strconv.Atoi(s[m[6]:m[7]])
		cut(m)
	} else if m := reDate3.FindStringSubmatchIndex(s); m != nil {
		day, _ = strconv.Atoi(s[m[2]:m[3]])
		mon = monthIndex(s[m[4]:m[5]])
		digits := s[m[6]:m[7]]
		year, _ = strconv.Atoi(digits)
		if len(digits) == 2 && year < 50 {
			year += 2000
		} else {
			year += 1900
		}
		cut(m)
	} else {
		return 0, false
	}
	var hh, mm, ss int
	if m := reDateTime.FindStringSubmatchIndex(s); m != nil {
		hh, _ = strconv.Atoi(s[m[2]:m[3]])
		mm, _ = strconv.Atoi(s[m[4]:m[5]])
		if m[8] >= 0 {
			ss, _ = strconv.Atoi(s[m[8]:m[9]])
		}
		cut(m)
	}
	offset := 0
	if m := reDateOffset.FindStringSubmatch(s); m != nil {
		offset = zoneOffset(m[1])
	} else if m := reDateZone.FindStringSubmatch(s); m != nil {
		if z, ok := dateZones[m[1]]; ok {
			offset = zoneOffset(z)
		}
	}
	return dateSeconds(year, mon, day, hh, mm, ss, offset)
}

var (
	reDateComma  = regexp.MustCompile(`, *`)
	reDate1      = regexp.MustCompile(`(?i) (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) `)
	reDate2      = regexp.MustCompile(`(?i) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d+) \d+:\d+:\d+ (\d{4}) `)
	reDate3      = regexp.MustCompile(`(?i) (\d+) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{2,3}) `)
	reDateTime   = regexp.MustCompile(` (\d?\d):(\d\d)(:(\d\d))? `)
	reDateOffset = regexp.MustCompile(` ([-+]\d{4}) `)
	reDateZone   = regexp.MustCompile(`\b([A-Z]{2,4}(?:-DST)?)\b`)
)

// parseDate reads a date as the regexps do: the dates below, and what the fuzzer
// makes of them.
func TestParseDateAsRegexps(t *testing.T) {
	for _, d := range dateSeeds {
		agreeParseDate(t, d)
	}
	// And dates made of the words and separators the regexps read, at random.
	words := []string{"Mon", "mon", "JUN", "jun", "Jun", "ſep", "Sep", "Dec", "Foo", "1", "01", "31", "29", "99",
		"2026", "1969", "2038", "026", "26", "12345", "10:00:00", "1:2:3", "10:00", "7:05", "1:00:0", "10:00:00:00",
		"+0000", "-0130", "+99999", "-130", "EST", "CEST-DST", "EST-DSTX", "(MST)", "[UT]", "UTC+1", "ÉESTÉ",
		"_GMT", "aGMT", "GMT5", "AKDT", "ABCDE", "Z", "(UTC)", "x"}
	seps := []string{" ", ", ", ",", "  ", "\t", "\u00a0", " ,", "\v", "\u0085", "\u2003"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50000 {
		var b strings.Builder
		for k := range 1 + rng.IntN(9) {
			if k > 0 || rng.IntN(4) == 0 {
				b.WriteString(seps[rng.IntN(len(seps))])
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		agreeParseDate(t, b.String())
		if t.Failed() {
			return
		}
	}
}

func FuzzParseDate(f *testing.F) {
	for _, d := range dateSeeds {
		f.Add(d)
	}
	f.Fuzz(agreeParseDate)
}

func agreeParseDate(t *testing.T, d string) {
	t.Helper()
	got, gotOK := parseDate(d)
	want, wantOK := parseDateRE(d)
	if got != want || gotOK != wantOK {
		t.Errorf("parseDate(%q) = %d, %v; the regexps %d, %v", d, got, gotOK, want, wantOK)
	}
}

var dateSeeds = []string{
	"Mon, 1 Jun 2026 10:00:00 +0000", "Mon, 1 Jun 2026 10:00:00 EDT", "1 Jun 26 10:00 -0130",
	"Wed, 05 Jun 0102 05:50:03 +0600", "Jun 1 10:00:00 2026", "Tue, 31 Jun 2026 10:00:00 +0000 (UTC)",
	"Mon,2 Jan 2006 15:04:05 -0700 (MST)", "Sun, 29 Feb 2004 1:2:3 GMT", "29 feb 2005 23:59:60 CEST-DST",
	"Fri, 13 DEC 99 12:00 EST-DSTX", "Thu Jan  4 07:33:00 2001", "Thu, 4 Jan 2001 07:33 +0100 PST",
	"MON, 1 JUN 2026 10:00:00", "1 Jun 2026 1 Jul 2027 10:00:00", "x 1 ſep 2026 10:00:00 UT",
	"1 Jun 2026 10:00:00 (EST5EDT) BRST", "Jun 1 2026", "12 Jan 123 4:05:06 +99999", "12 Jan 123 4:05:06 +9999",
	"Sat, 07 Sep 2002 00:21:13 -0000 AKDT", "2 Oct 2020 10:00:00 [ABCDE] ÉESTÉ", "5 May 2005 05:05:05 _GMT",
	"", "no date here", "10:00:00", "1 Jun 2026\t10:00:00\u00a0+0200", "99999999999999999999 Jan 2026",
}

// BenchmarkParseDate: a date read by its words (parseDate) and by the regexps
// (parseDateRE), on dates as Date fields and Received lines give them.
func BenchmarkParseDate(b *testing.B) {
	ds := []string{" Mon, 2 Jan 2006 15:04:05 -0700 (MST)", "Tue, 3 Feb 2004 01:02:03 +0000", " Wed, 4 Mar 2020 05:06:07 -0800"}
	b.Run("words", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			parseDate(ds[i%len(ds)])
		}
	})
	b.Run("regexps", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			parseDateRE(ds[i%len(ds)])
		}
	})
}

// reLocalRcvd answers as its regexp alone does, its prefilter holding the two
// words every match has.
func TestLocalRcvd(t *testing.T) {
	if !slices.Equal(reLocalRcvd.lits, []string{"localhost", "127.0.0.1"}) {
		t.Errorf("prefilter literals %q, want localhost and 127.0.0.1", reLocalRcvd.lits)
	}
	for _, line := range []string{
		"from localhost (localhost [127.0.0.1]) by mail.example.com", "from localhost\tby x",
		"from mail.example.com (mail [127.0.0.1]) by x", "from a b c127.0.0.1 by x", "from a b c d 127.0.0.1",
		"from x (HELO localhostx) by y", "from mail.example.com ([192.0.2.1]) by mx.example.org (Postfix)",
		"by localhost with SMTP", "from 127.0.0.1 (helo) by x", "afrom localhost x", "from localhost",
		"FROM LOCALHOST by x",
	} {
		if got, want := reLocalRcvd.MatchString(line), reLocalRcvd.Regexp.MatchString(line); got != want {
			t.Errorf("reLocalRcvd(%q) = %v, its regexp alone %v", line, got, want)
		}
	}
}

// BenchmarkLocalRcvd: a common first Received line through reLocalRcvd's
// prefilter and through its regexp alone.
func BenchmarkLocalRcvd(b *testing.B) {
	l := "from mail.example.com (mail.example.com [192.0.2.1]) by mx.example.org (Postfix) with ESMTPS id 4F2A11C0 for <user@example.org>; Mon, 2 Jan 2006 15:04:05 -0700 (MST)"
	b.Run("prefiltered", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			reLocalRcvd.MatchString(l)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			reLocalRcvd.Regexp.MatchString(l)
		}
	})
}
