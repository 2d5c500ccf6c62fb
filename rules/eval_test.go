package rules

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/internal/corpus"
	"github.com/postern/postern/scan"
	"golang.org/x/net/idna"
)

// evalHits loads one eval rule and says whether it hits the message.
func evalHits(t *testing.T, call, extra, msg string) bool {
	t.Helper()
	dir := writeRules(t, map[string]string{"e.cf": extra + "\nheader T_EVAL eval:" + call + "\nscore T_EVAL 1\n"})
	s, problems := Load(filepath.Join(dir, "e.cf"))
	for _, p := range problems {
		if p.Rule == "T_EVAL" {
			t.Fatalf("%s: %s", call, p)
		}
	}
	for _, n := range hitNames(t, s, msgOf(t, msg)) {
		if n == "T_EVAL" {
			return true
		}
	}
	return false
}

// Each eval on a message it hits and one it misses, as SpamAssassin's Perl decides
// them (Mail/SpamAssassin/Plugin/*.pm).
func TestEvals(t *testing.T) {
	const plain = "From: a@example.org\nTo: b@example.net\nSubject: hello there\nDate: Mon, 1 Jun 2026 10:00:00 +0000\nMessage-ID: <1@example.org>\n"
	rcvd := func(date string) string {
		return "Received: from mx.example.org (mx.example.org [192.0.2.1]) by mx.example.net (Postfix) with ESMTP id ABC123; " + date + "\n"
	}
	html := func(body string) string {
		return plain + "MIME-Version: 1.0\nContent-Type: text/html\n\n" + body + "\n"
	}
	const freemail = "freemail_domains gmail.com yahoo.* hotmail.com"
	gifMessage := plain + "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n" +
		"--b\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh9AGQAQAAAA==\n--b--\n"
	tests := []struct {
		call, extra string
		hit, miss   string
	}{
		// A raw line's length counts its newline, as SpamAssassin's raw lines
		// keep it: 78 characters are 79 long (spam-1.00341's GIF).
		{"check_base64_length('79')", "",
			strings.Replace(gifMessage, "R0lGODlh9AGQAQAAAA==", strings.Repeat("QUFB", 19)+"QU", 1),
			strings.Replace(gifMessage, "R0lGODlh9AGQAQAAAA==", strings.Repeat("QUFB", 19)+"Q", 1)},
		// The part found with its Content-Type folded over two lines.
		{"check_base64_length('79')", "",
			strings.Replace(strings.Replace(gifMessage, "Content-Type: image/gif\n", "Content-Type: image/gif;\n\tname=\"a.gif\"\n", 1), "R0lGODlh9AGQAQAAAA==", strings.Repeat("QUFB", 19)+"QU", 1),
			strings.Replace(gifMessage, "Content-Type: image/gif\n", "Content-Type: image/gif;\n\tname=\"a.gif\"\n", 1)},
		// A HELO that is an address, another than the client's: one written
		// with a leading zero is no address (IS_IPV4_ADDRESS).
		{"helo_ip_mismatch()", "",
			"Received: from 64.51.39.8 (unknown [202.98.63.126]) by mx.example.net (Postfix) with SMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n",
			"Received: from 64.51.39.08 (unknown [202.98.63.126]) by mx.example.net (Postfix) with SMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n"},
		{"check_for_missing_to_header()", "",
			"From: a@example.org\nSubject: x\n\nbody\n", plain + "\nbody\n"},
		{"subject_is_all_caps()", "",
			"From: a@example.org\nSubject: MAKE MONEY FAST NOW\n\nx\n", plain + "\nbody\n"},
		// Encoded in UTF-8 it still counts; in a charset of a script without
		// case (CHARSETS_LIKELY_TO_FP_AS_CAPS) it does not.
		{"subject_is_all_caps()", "",
			"From: a@example.org\nSubject: =?utf-8?Q?OFERTA_DE_EMPR=C3=89STIMO?=\n\nx\n",
			"From: a@example.org\nSubject: =?koi8-r?Q?OFERTA_DE_EMPRESTIMO?=\n\nx\n"},
		{"check_for_shifted_date('-6', '-3')", "",
			rcvd("Mon, 1 Jun 2026 14:00:00 +0000") + plain + "\nx\n", rcvd("Mon, 1 Jun 2026 10:05:00 +0000") + plain + "\nx\n"},
		{"check_for_shifted_date('undef', '-96')", "",
			rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + strings.Replace(plain, "1 Jun 2026", "1 Jun 1999", 1) + "\nx\n", rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n"},
		{"similar_recipients('0.5','undef')", "",
			"From: a@example.org\nTo: aa1@ex1.example, aa2@ex2.example, aa3@ex3.example, aa4@ex4.example, aa5@ex5.example\nSubject: x\n\nx\n",
			"From: a@example.org\nTo: bob@one.example, carol@two.test, dave@three.invalid, erin@four.example, frank@five.test\nSubject: x\n\nx\n"},
		{"check_equal_from_domains()", "",
			"Return-Path: <bounce@mailer.example>\n" + plain + "\nx\n", "Return-Path: <a@example.org>\n" + plain + "\nx\n"},
		// No envelope sender to compare: a Return-Path copy below a Received line
		// (a list's), or an X-Sender with fetchmail, even one Go cannot parse.
		{"check_equal_from_domains()", "",
			"Return-Path: <bounce@mailer.example>\n" + rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n",
			"Return-Path: <bounce@mailer.example>\n" + rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + "Return-Path: <list@lists.example>\n" + plain + "\nx\n"},
		{"check_equal_from_domains()", "",
			"Return-Path: <bounce@mailer.example>\nReceived: from mx (mx [192.0.2.7]) by localhost with IMAP (fetchmail-5.9.0) for a@localhost; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n",
			"Return-Path: <bounce@mailer.example>\nReceived: from mx (mx [192.0.2.7]) by localhost with IMAP (fetchmail-5.9.0) for a@localhost; Mon, 1 Jun 2026 10:00:00 +0000\nX-Sender: a@example.org@example.org (Unverified)\n" + plain + "\nx\n"},
		{"check_welcomelist_bounce_relays()", "whitelist_bounce_relays relay*.example.org",
			plain + "\nYour message could not be delivered.\n> Received: from pc (pc [192.0.2.9]) by relay2.example.org (Postfix) with ESMTP\n",
			plain + "\nYour message could not be delivered.\n> Received: from pc (pc [192.0.2.9]) by mx.example.com (Postfix) with ESMTP\n"},
		{"check_header_count_range('To', '2', '10')", "",
			"To: a@example.com\nTo: b@example.com\nSubject: x\n\nx\n", plain + "\nx\n"},
		{"check_unresolved_template()", "",
			plain + "X-Campaign: %CUSTOMER_ID\n\nx\n", plain + "\nx\n"},
		{"check_outlook_message_id()", "",
			"Message-ID: <000001c2a0b1$12345678$0100a8c0@home>\nDate: Mon, 1 Jun 2026 10:00:00 +0000\nSubject: x\n\nx\n", plain + "\nx\n"},
		{"check_for_no_rdns_dotcom_helo()", "",
			"Received: from hotmail.com (unknown [198.51.100.7]) by mx.example.net (Postfix) with ESMTP id X1; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n",
			rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n"},
		{"check_relays_unparseable()", "",
			"Received: from garbled beyond recognition\n" + plain + "\nx\n", rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n"},
		{"check_freemail_from()", freemail,
			"From: someone@gmail.com\nSubject: x\n\nx\n", plain + "\nx\n"},
		{"check_freemail_from('\\d@')", freemail,
			"From: someone77@yahoo.fr\nSubject: x\n\nx\n", "From: someone@yahoo.fr\nSubject: x\n\nx\n"},
		{"check_freemail_replyto('replyto')", freemail,
			"From: a@gmail.com\nReply-To: b@hotmail.com\nSubject: x\n\nx\n", "From: a@gmail.com\nReply-To: a@gmail.com\nSubject: x\n\nx\n"},
		{"check_freemail_header('Reply-To')", freemail,
			"From: a@example.org\nReply-To: b@hotmail.com\nSubject: x\n\nx\n", "From: a@example.org\nReply-To: b@example.org\nSubject: x\n\nx\n"},
		{"html_test('font_low_contrast')", "",
			html(`<html><body bgcolor="#ffffff"><font color="#fefefe">hidden words</font></body></html>`), html(`<html><body><p>plain words</p></body></html>`)},
		{"html_image_only('0000','0400')", "",
			html(`<html><img src="http://x.example/a.png"></html>`), html(`<html><p>text only</p></html>`)},
		{"html_tag_balance('body', '!= 0')", "",
			html(`<html><body><p>open body</p></html>`), html(`<html><body><p>x</p></body></html>`)},
		{"html_tag_exists('script')", "",
			html(`<html><script>x()</script></html>`), html(`<html><p>x</p></html>`)},
		// Inside noscript, a tag is a tag (HTML::Parser reads its content as markup),
		// not text; inside a script, text.
		{"html_tag_exists('img')", "",
			html(`<html><noscript><img src="http://t.example/p.gif"></noscript></html>`), html(`<html><script>"<img>"</script></html>`)},
		// A title never closed holds markup; a closed one, text.
		{"html_tag_exists('b')", "",
			html(`<html><title>x <b>y</b></html>`), html(`<html><title>x <b>y</b></title></html>`)},
		{"html_range('non_element_ratio','0.40','0.90')", "",
			html(`<foo><bar><baz><p>x</p></baz></bar></foo>`), html(`<html><body><p>x</p></body></html>`)},
		{"html_text_match('anchor', '<img>')", "",
			html(`<a href="http://x.example/"><img src="y.png"></a>`), html(`<a href="http://x.example/">click</a>`)},
		{"html_title_subject_ratio('3.5')", "",
			html(`<html><head><title>a very long title that is much longer than the subject line</title></head></html>`), html(`<html><head><title>hi</title></head></html>`)},
		// The subject's length is SpamAssassin's get's, with its "\n": an empty
		// Subject is one long, and a 20-character title over "Line?" (6) is
		// under the ratio (spam-2.01144 and spam-2.01219).
		{"html_title_subject_ratio('3.5')", "",
			strings.Replace(html(`<html><head><title>ink_refill_toner</title></head></html>`), "Subject: hello there\n", "Subject: \n", 1),
			strings.Replace(html(`<html><head><title>Cell Booster Antenna</title></head></html>`), "Subject: hello there\n", "Subject: Line?\n", 1)},
		{"check_for_mime_html_only()", "",
			html("<p>x</p>"), plain + "\nx\n"},
		{"check_for_mime('mime_base64_count')", "",
			plain + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n", plain + "\nx\n"},
		// The raw lines: needless quoted-printable escapes (=41 for A; a line's
		// trailing =20 is no such), a quoted-printable line over 78 characters,
		// a byte above 127 in text that says it is us-ascii.
		{"check_for_mime('mime_qp_count')", "",
			plain + "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=48ello=20\n",
			plain + "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 au lait=20\n"},
		{"check_for_mime('mime_qp_long_line')", "",
			plain + "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("x", 79) + "\n",
			plain + "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("x", 78) + "\n"}, // (msgOf writes CRLF: counted as LF)
		{"check_for_ascii_text_illegal()", "",
			plain + "Content-Type: text/plain; charset=us-ascii\n\ncaf\xe9\n",
			plain + "Content-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n"},
		// ImageInfo: a 500x400 GIF attached (its header only), and a message
		// without one.
		{"image_count('gif','1','1')", "", gifMessage, plain + "\nx\n"},
		{"pixel_coverage('gif','180000','475000')", "", gifMessage, plain + "\nx\n"},
		{"image_to_text_ratio('all', '0.000', '0.015')", "", gifMessage,
			strings.Replace(gifMessage, "\nhi\n", "\n"+strings.Repeat("long text beside the picture ", 200)+"\n", 1)},
		// A UTF-8 body counts; one in a charset of a script without case does not.
		{"check_for_uppercase('50', '100')", "",
			strings.Replace(plain, "Date:", "Content-Type: text/plain; charset=utf-8\nDate:", 1) + "\n" + strings.Repeat("THIS IS ALL SHOUTING TEXT FOR YOU ", 10) + "\n",
			strings.Replace(plain, "Date:", "Content-Type: text/plain; charset=koi8-r\nDate:", 1) + "\n" + strings.Repeat("THIS IS ALL SHOUTING TEXT FOR YOU ", 10) + "\n"},
		{"check_for_uppercase('50', '100')", "",
			plain + "\n" + strings.Repeat("THIS IS ALL SHOUTING TEXT FOR YOU ", 10) + "\n", plain + "\n" + strings.Repeat("this is quiet text for you ", 10) + "\n"},
		{"multipart_alternative_difference('99', '100')", "",
			plain + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nnothing alike\n--b\nContent-Type: text/html\n\n<p>buy cheap pills today</p>\n--b--\n",
			plain + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nbuy cheap pills today\n--b\nContent-Type: text/html\n\n<p>buy cheap pills today</p>\n--b--\n"},
		// Words of any script count (Perl's \w on characters): an alternative of
		// Chinese HTML and no plain text differs wholly.
		{"multipart_alternative_difference('99', '100')", "",
			plain + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html; charset=utf-8\n\n<p>中文 內容</p>\n--b--\n",
			plain + "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n中文 內容\n--b\nContent-Type: text/html; charset=utf-8\n\n<p>中文 內容</p>\n--b--\n"},
		{"check_body_length('20')", "",
			plain + "\nshort\n", plain + "\n" + strings.Repeat("long body ", 10) + "\n"},
		{"check_for_spf_pass()", "", "", plain + "\nx\n"}, // offline: never
		// WLBLEval: the lists of the configuration, and the envelope sender
		// against the relay that handed the message in.
		{"check_mailfrom_matches_rcvd()", "",
			"Return-Path: <bounce@lists.example.org>\n" + rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n",
			"Return-Path: <bounce@other.example>\n" + rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n"},
		{"check_from_in_list('BANKS')", "enlist_addrlist (BANKS) *@bigbank.example\ndelist_addrlist (BANKS) nobody@bigbank.example",
			"From: alert@BigBank.example\nSubject: x\n\nx\n", plain + "\nx\n"},
		{"check_replyto_in_list('DROPS')", "enlist_addrlist (DROPS) drop?@*",
			plain + "Reply-To: drop1@x.example\n\nx\n", plain + "Reply-To: dropbox@x.example\n\nx\n"},
		{"check_uri_host_listed('BAD')", "enlist_uri_host (BAD) example.top !good.example.top",
			plain + "\nsee http://www.evil.example.top/x now\n", plain + "\nsee http://good.example.top/x and mailto:a@example.top\n"},
		// A relative link (href="top") is no link to a host of .top.
		{"check_uri_host_listed('NTLD')", "enlist_uri_host (NTLD) top",
			html(`<a href="http://x.example.top/">x</a>`), html(`<a href="top">back to top</a>`)},
		{"check_from_in_whitelist()", "whitelist_from *@friend.example",
			"From: a@friend.example\nSubject: x\n\nx\n", plain + "\nx\n"},
		{"check_from_in_default_welcomelist()", "def_whitelist_from_rcvd *@example.org example.org",
			rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n",
			"Received: from mx.elsewhere.example (mx.elsewhere.example [198.51.100.9]) by mx.example.net (Postfix) with ESMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n"},
		{"check_forged_in_default_welcomelist()", "def_welcomelist_from_rcvd *@example.org example.org",
			"Received: from mx.elsewhere.example (mx.elsewhere.example [198.51.100.9]) by mx.example.net (Postfix) with ESMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n",
			rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n"},
		{"check_from_in_welcomelist()", "welcomelist_from_rcvd a@example.org [192.0.2.0/24]",
			rcvd("Mon, 1 Jun 2026 10:00:00 +0000") + plain + "\nx\n",
			"Received: from mx.example.org (mx.example.org [198.51.100.9]) by mx.example.net (Postfix) with ESMTP id A1; Mon, 1 Jun 2026 10:00:00 +0000\n" + plain + "\nx\n"},
		{"check_to_in_more_spam()", "more_spam_to b@example.net",
			plain + "\nx\n", "From: a@example.org\nTo: c@example.net\nSubject: x\n\nx\n"},
		{"check_uri_host_in_blocklist()", "blocklist_uri_host bad.example",
			plain + "\nhttp://x.bad.example/\n", plain + "\nhttp://notbad.example/\n"},
	}
	for _, tt := range tests {
		t.Run(strings.SplitN(tt.call, "(", 2)[0], func(t *testing.T) {
			if tt.hit != "" && !evalHits(t, tt.call, tt.extra, tt.hit) {
				t.Errorf("%s misses the message it should hit", tt.call)
			}
			if evalHits(t, tt.call, tt.extra, tt.miss) {
				t.Errorf("%s hits the message it should miss", tt.call)
			}
		})
	}
}

// TestEvalArguments: arguments an eval cannot take skip the rule with a warning;
// the set still loads.
// VBounce's have_any_bounce_relays says whether the site listed its relays at all.
func TestBounceRelaysListed(t *testing.T) {
	msg := "From: a@example.org\nSubject: x\n\nx\n"
	if !evalHits(t, "have_any_bounce_relays()", "welcomelist_bounce_relays relay*.example.org", msg) {
		t.Error("have_any_bounce_relays misses with a relay listed")
	}
	if evalHits(t, "have_any_bounce_relays()", "", msg) {
		t.Error("have_any_bounce_relays hits with no relay listed")
	}
}

func TestEvalArguments(t *testing.T) {
	for _, call := range []string{"check_for_shifted_date('x', 'y')", "html_test('no_such_test')", "check_for_mime('mime_qp_ratio')", "no_such_eval()", "postern_mixed_script()", "postern_random_token()"} {
		dir := writeRules(t, map[string]string{"e.cf": "header T_EVAL eval:" + call + "\n"})
		_, problems := Load(filepath.Join(dir, "e.cf"))
		if len(problems) != 1 || !problems[0].Warning || !strings.Contains(problems[0].Msg, "skipped") {
			t.Errorf("%s: %v", call, problems)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]int64{
		"Mon, 1 Jun 2026 10:00:00 +0000":        1780308000,
		"Mon, 1 Jun 2026 10:00:00 EDT":          1780308000 + 4*3600,
		"1 Jun 26 10:00 -0130":                  1780308000 + 90*60,
		"Wed, 05 Jun 0102 05:50:03 +0600":       0,                     // year 102: clamped to 1970, as SpamAssassin does
		"Jun 1 10:00:00 2026":                   1780272000,            // this form's time is not read: midnight, as in SpamAssassin
		"Tue, 31 Jun 2026 10:00:00 +0000 (UTC)": 1780308000 + 30*86400, // 31 June is 1 July
	} {
		got, ok := parseDate(in)
		if !ok || (want != 0 && got != want) || (want == 0 && got > 86400*366) {
			t.Errorf("parseDate(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	if _, ok := parseDate("no date here"); ok {
		t.Error("parsed a non-date")
	}
}

// TestEvalsOnBrokenText: evals that build expressions from the message's text
// (addresses) do not panic on bytes that are not UTF-8.
func TestEvalsOnBrokenText(t *testing.T) {
	msg := "Return-Path: <host.example.\xa5\xbc@x.example>\nTo: \xa5\xbc@host.example\nFrom: \"n\" <\xa5@x>\nMessage-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.\xa5@x>\nSubject: \xa5\xbc\n\nx\n"
	for _, call := range []string{"check_ratware_envelope_from()", "check_ratware_name_id()", "check_for_to_in_subject('address')", "check_for_to_in_subject('user')"} {
		evalHits(t, call, "", msg) // must not panic
	}
}

// TestUserInSubject holds check_for_to_in_subject('user')'s reading by hand to
// the expression it stands for: every subject of a few pieces (the user in
// either case, prefixes, words, white space, punctuation), for users of letters,
// digits and punctuation.
func TestUserInSubject(t *testing.T) {
	pieces := []string{"", "re:", "Fw:", "RE: ", ",", " ", "\t", "x", "a", "word ", "-", "!", ";", "é", "ü "}
	for _, user := range []string{"jm", "a", "a-", "x.y", "Bob", "1"} {
		re := regexp.MustCompile(`(?i)^(?:(?:re|fw):\s*(?:\w+\s+)?` + regexp.QuoteMeta(user) + `$|(?-i:` + regexp.QuoteMeta(user) + `)\s*[,:;!?-](?:$|\s)|` + regexp.QuoteMeta(user) + `$|,\s*` + regexp.QuoteMeta(user) + `[,:;!?-]$)`)
		users := []string{user, strings.ToUpper(user)}
		checked, sure := 0, 0
		for _, a := range pieces {
			for _, b := range pieces {
				for _, u := range users {
					for _, c := range pieces {
						for _, d := range pieces {
							subject := a + b + u + c + d
							got, ok := userInSubject(subject, user)
							checked++
							if !ok {
								continue
							}
							sure++
							if want := re.MatchString(subject); got != want {
								t.Errorf("userInSubject(%q, %q) = %v, the expression says %v", subject, user, got, want)
							}
						}
					}
				}
			}
		}
		if sure == 0 || sure == checked {
			t.Errorf("user %q: %d of %d subjects read by hand: the test should try both kinds", user, sure, checked)
		}
	}
	if _, sure := userInSubject("re: a b", "a b"); sure {
		t.Error("a user with white space was read by hand")
	}
}

// TestGlobMatch: add_to_addrlist's globs, as SpamAssassin's regexps of them match.
func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		glob, addr string
		want       bool
	}{
		{"*@paypal.com", "service@paypal.com", true},
		{"*@paypal.com", "service@paypal.com.evil.example", false},
		{"*@*.paypal.com", "x@mail.paypal.com", true},
		{"*@*.paypal.com", "x@paypal.com", false},
		{"*@*.icu", "a@b.c.icu", true},
		{"*@*.icu", "a@icu", false},
		{"jo?n@example.com", "john@example.com", true},
		{"jo?n@example.com", "jon@example.com", false},
		{"jo?n@example.com", "joén@example.com", true}, // ? is a character
		{"user@example.com", "user@example.com", true},
		{"*", "", true},
		{"a*b*c", "aXbYbc", true},
		{"a*b*c", "aXbYbd", false},
		{"*@*", "nobody", false},
	} {
		if got := globMatch(c.glob, c.addr); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.glob, c.addr, got, c.want)
		}
	}
}

// TestGlobIndexAgrees: the index finds for each address exactly the globs that
// globMatch, tried one by one, matches.
func TestGlobIndexAgrees(t *testing.T) {
	globs := map[string]bool{}
	for _, g := range []string{"*@paypal.com", "*@*.paypal.com", "*@*.icu", "jo?n@example.com",
		"user@example.com", "*", "a*b*c", "*@*", "*@", "*@a@b.com", "*@b.com", "*b.com", "x*@b.com",
		"*@b?com", "@b.com", "*@b.com*", "*@*.b.com", "*@*.com", "*@*.", "*@*.a@b.com", "*@*.b?com", "*@*.c.icu"} {
		globs[g] = true
	}
	x := newGlobIndex(globs)
	for _, addr := range []string{"service@paypal.com", "service@paypal.com.evil.example", "x@mail.paypal.com",
		"a@b.c.icu", "john@example.com", "joén@example.com", "user@example.com", "", "aXbYbc", "nobody",
		"foo@", "@", "x@a@b.com", "a@b.com", "@b.com", "x@b.com", "xb.com", "a@bxcom", "a@b.com@c", "a@b.comx",
		"a@x.b.com", "a@.b.com", "x.b.com", "a.b@c", "a@b@x.b.com", "a@x.y.b.com", "a@x.c.icu", "a@.", "a@x."} {
		var want, got []string
		for g := range globs {
			if globMatch(g, addr) {
				want = append(want, g)
			}
		}
		x.match(addr, func(g string) bool {
			got = append(got, g)
			return false
		})
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: the index matched %q, globMatch %q", addr, got, want)
		}
	}
}

// The address lists are worked out once a message, also when they are empty.
func TestAddrListsComputedOnce(t *testing.T) {
	s, _ := Load(DefaultPath)
	tg := newTarget(msgOf(t, "Subject: no addresses\n\nhello\n"), nil, nil)
	tg.set = s
	if from, to := tg.allFromAddrs(), tg.allToAddrs(); len(from) != 0 || len(to) != 0 {
		t.Fatalf("addresses %v %v, want none", from, to)
	}
	if tg.fromAddrs == nil || tg.toAddrs == nil {
		t.Errorf("empty address lists not kept: from %v, to %v (nil: computed again on every ask)", tg.fromAddrs == nil, tg.toAddrs == nil)
	}
}

// The hand-written readers agree with the expressions they replace.
func TestHexRGBAndMayContain(t *testing.T) {
	re := regexp.MustCompile(`^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$`)
	for _, c := range []string{"#ff0010", "ff0010", "#FF0010", "#ff001", "#ff00100", "##ff0010", "", "#", "#gg0010", "ff0010\n"} {
		r, g, b, ok := hexRGB(c)
		m := re.FindStringSubmatch(c)
		if ok != (m != nil) {
			t.Errorf("hexRGB(%q) ok %v, the expression %v", c, ok, m != nil)
			continue
		}
		if ok && fmt.Sprintf("%02x%02x%02x", r, g, b) != m[1]+m[2]+m[3] {
			t.Errorf("hexRGB(%q) = %d %d %d", c, r, g, b)
		}
	}
	for _, c := range []struct {
		s, needle  string
		fold, want bool
	}{
		{"Re: hello JOHN", "john", true, true},
		{"Re: hello JOHN", "john", false, false},
		{"Re: hello", "john", true, false},
		{"Re: \u212aate", "kate", true, true},   // (?i) folds the Kelvin sign to k
		{"\u017fupport", "SUPPORT", true, true}, // and the long s to s
		{"Grüße an USER@example.com 🎁", "user@example.com", true, true},
		{"Grüße an Anna 🎁", "user@example.com", true, false},
		{"Straße", "strasse", true, false}, // (?i) folds rune by rune: ß is no ss
		{"x", "", true, true},
		{"Re: Müller", "müller", true, true}, // a needle not ASCII is let through
	} {
		if got := mayContain(c.s, c.needle, c.fold); got != c.want {
			t.Errorf("mayContain(%q, %q, %v) = %v", c.s, c.needle, c.fold, got)
		}
	}
}

// FreeMail leaves out the addresses a reply quotes: in <...>, or before "wrote:".
// TestStripBodyLine holds the two substitutions of FreeMail's _parse_body to
// SpamAssassin's own, run by perl on each line (its email_regex and the two
// s{}{ }gi of FreeMail.pm).
func TestStripBodyLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"From: Jo <jo@example.com> said", "From: Jo   said"},
		{"jo@example.com wrote: hi", "  hi"},
		{"mail jo@example.com phone: 555", "mail jo@example.com phone: 555"},
		{"write to jo@example.com today", "write to jo@example.com today"},
		{`<a href="mailto:jo@example.com">x</a>`, `<a href="mailto:jo@example.com">x</a>`},
		{"Spamassassin-Sightings@lists.sourceforge.net https://lists.sourceforge.net/x", " //lists.sourceforge.net/x"},
		{"a <b@c.org> and <d@e.net> x", "a   and   x"},
		{"see https://t.co/x?u=jo%40example.com now", "see   now"},
		{"jo@example.com  Wrote:x", " x"},
		{"x@y.com abcdefghijkl: z", "x@y.com abcdefghijkl: z"},
		{"<x@y.com wrote: ok", "  ok"},
	} {
		if got := stripBodyLine(c.in); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

// reRcvdDate is the expression rcvdDate reads by hand.
var reRcvdDate = regexp.MustCompile(`(\s.?\d+ \S\S\S \d+ \d+:\d+:\d+ \S+)`)

func TestRcvdDate(t *testing.T) {
	for _, s := range []string{
		"from a by b; Mon, 2 Jan 2006 15:04:05 -0700",
		"from a by b; 2 Jan 2006 15:04:05 +0000 (UTC)",
		"by x with SMTP id 1; Tue,  3 Feb 2004 01:02:03 GMT",
		"from x ; 12 Dec 2003 1:2:3 Z",
		"x\t 1 Jan 2000 0:0:0 z",
		"no date here",
		"from a\n 7 Jul 2001 12:00:00 -0400",
		"a 19 Fév 2001 12:00:00 +0100",
		"a \xff1 Jan 2000 1:2:3 \xfe",
		"a  1 Jan 2000 1:2:3",
		"a 1 Jan 2000 1:2:3 ",
	} {
		agreeRcvdDate(t, s)
	}
}

// agreeRcvdDate fails when rcvdDate and the expression it reads differ on s.
func agreeRcvdDate(t *testing.T, s string) {
	t.Helper()
	want, wantOK := "", false
	if m := reRcvdDate.FindStringSubmatch(s); m != nil {
		want, wantOK = m[1], true
	}
	if got, ok := rcvdDate(s); got != want || ok != wantOK {
		t.Errorf("rcvdDate(%q) = %q, %v; want %q, %v", s, got, ok, want, wantOK)
	}
}

func FuzzRcvdDate(f *testing.F) {
	f.Add("from a by b; Mon, 2 Jan 2006 15:04:05 -0700")
	f.Add("x 12 Dec 2003 1:2:3 Z")
	f.Fuzz(agreeRcvdDate)
}

// BenchmarkReceivedDate: the date of a Received line found by hand (rcvdDate)
// against the expression it reads (reRcvdDate), on lines as the date rules see them.
func BenchmarkReceivedDate(b *testing.B) {
	lines := []string{
		"from mail.example.com (mail.example.com [192.0.2.1]) by mx.example.org (Postfix) with ESMTPS id 4F2A11C0 for <user@example.org>; Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
		"from [10.0.0.7] (helo=client.example.net) by smtp.example.net with esmtpsa (TLS1.3:TLS_AES_256_GCM_SHA384:256) (Exim 4.96) id 1qXyZa-0003Kq-2b; Tue, 3 Feb 2004 01:02:03 +0000",
		"by 2002:a05:6402:1234:b0:56c:5678:9abc with SMTP id x12csp345678edb; Wed, 4 Mar 2020 05:06:07 -0800 (PST)",
	}
	b.Run("by hand", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rcvdDate(lines[i%len(lines)])
		}
	})
	b.Run("expression", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			reRcvdDate.FindStringSubmatch(lines[i%len(lines)])
		}
	})
}

// The stock wildcard free mail domains (yahoo.*, *.onmicrosoft.com, ms*.hinet.net)
// are answered before Go's regexp (quickRegexp.test): the same answers as the
// regexp, on addresses that match and miss them.
func TestFreemailWildcardDFA(t *testing.T) {
	s := stockRules(t, false)
	f := &s.freemail
	if f.re == nil {
		t.Fatal("the stock rules' wildcard free mail domains were not compiled")
	}
	hits := 0
	for _, e := range []string{"a@yahoo.de", "a@yahoo.co.uk", "a@yahoo.com.au", "x@mail.yahoo.de", "b@x.onmicrosoft.com",
		"c@ms12.hinet.net", "c@hinet.net", "d@gmx.net", "d@gmx.example.com", "e@aol.", "e@aol", "@yahoo.fr", "a@b@yahoo.fr",
		"someone@example.com", "f@outlook.com", "g@mail2world.com", "h@mail2.com", "", "@", "i@ÿahoo.de", "j@YAHOO.DE"} {
		want := f.re.Regexp.MatchString(e)
		if got, sure := f.re.test(e); !sure || got != want {
			t.Errorf("%q: before the regexp %v (sure: %v), the regexp %v", e, got, sure, want)
		}
		if got := f.wildcard(e); got != want {
			t.Errorf("%q: wildcard %v, regexp %v", e, got, want)
		}
		if want {
			hits++
		}
	}
	if hits < 5 {
		t.Errorf("only %d addresses matched a wildcard: the test tries too little", hits)
	}
}

// hasWordGap answers what the regexp it stands for does (go test ./rules -fuzz WordGap).
func FuzzWordGap(f *testing.F) {
	reWordGap := regexp.MustCompile(`\S\s+\S`)
	for _, s := range []string{"", "a", "a b", " a b ", "ab", "a \t\n b", "a ", " a", "é ü", "\xff \xfe", "a\v b", "  ", "a\u00a0b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasWordGap(s), reWordGap.MatchString(s); got != want {
			t.Errorf("%q: hasWordGap %v, the regexp %v", s, got, want)
		}
	})
}

// The HTML analysis reads a tag's attributes by name, in any case, the first of two
// of one name (the tokenizer drops the second); the ones it reads are all kept
// (htmlAttrsRead).
func TestHTMLAttributes(t *testing.T) {
	for _, byTag := range []map[string]map[string]bool{htmlOKAttr, htmlTestAttrs} {
		for tag, names := range byTag {
			if !htmlAttrTags[tag] {
				t.Errorf("%s's attributes are used but not read (htmlAttrTags)", tag)
			}
			for name := range names {
				if !htmlAttrsRead[name] {
					t.Errorf("%s's %s is used but not kept (htmlAttrsRead)", tag, name)
				}
			}
		}
	}
	for _, c := range []struct {
		src  string
		want func(h *htmlPart) bool
	}{
		{`<img width=10 height=20>`, func(h *htmlPart) bool { return h.imageArea == 200 }},
		{`<IMG WIDTH=10 Width=99 height=20 class=x>`, func(h *htmlPart) bool { return h.imageArea == 200 }},
		{`<form class=x ACTION="MailTo:a@example.org">`, func(h *htmlPart) bool { return h.formMailto }},
		{`<iframe src=" x ">`, func(h *htmlPart) bool { return h.iframeSrc }},
		{`<iframe src=" ">`, func(h *htmlPart) bool { return !h.iframeSrc }},
		{`<font face="x%y" face="Arial">`, func(h *htmlPart) bool { return h.fontFaceBad }},
		{`<font face="Arial" face="x%y">`, func(h *htmlPart) bool { return !h.fontFaceBad }},
		{`<body bgcolor="#ffffff"><font color=#fefefe COLOR=#000000>words</font>`, func(h *htmlPart) bool { return h.fontLowContrast }},
	} {
		if h := analyzeHTMLText(c.src); !c.want(h) {
			t.Errorf("%s: not as it should be: %+v", c.src, *h)
		}
	}
}

// The HTML's length, which html_range('length') and html_image_ratio read, is
// SpamAssassin's: in characters, of the part's decoded text, whose line ends are
// LF (scan), however they came: CRLF in the message or inside its base64.
func TestHTMLLength(t *testing.T) {
	for _, c := range []struct {
		src  string // a message's HTML part, as it comes (CRLF line ends)
		want int
	}{
		{"Content-Type: text/html\r\n\r\n<p>ab</p>\r\n", 10},
		{"Content-Type: text/html\r\n\r\n<p>ab</p>\r\n<p>c</p>\r\n", 19},
		{"Content-Type: text/html\r\n\r\n<p>a\rb</p>", 10}, // a lone CR stays
		{"Content-Type: text/html; charset=utf-8\r\n\r\n<p>\xc3\xa9</p>\r\n", 9},
		{"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("<p>ab</p>\r\n")) + "\r\n", 10},
	} {
		m, err := scan.Parse(strings.NewReader(c.src))
		if err != nil || len(m.Parts) != 1 {
			t.Fatalf("%q: %v, %d parts", c.src, err, len(m.Parts))
		}
		if got := analyzeHTMLText(m.Parts[0].Text).length; got != c.want {
			t.Errorf("%q: length %d, want %d", c.src, got, c.want)
		}
	}
}

// FuzzDisplay holds display, which keeps of the rendered text only its count
// and the rune its last chunk ends in, to HTML.pm's display_text as it was
// written here before (go test ./rules -fuzz FuzzDisplay): every chunk kept,
// collapsed rune by rune and trimmed, and the count read off them joined.
// The input is chunks split at NUL, each chunk's first byte saying what it is:
// white space made by a tag (its rest ignored), or text, seen or invisible.
func FuzzDisplay(f *testing.F) {
	for _, s := range []string{
		"", "ta  b\x00w\x00t c", "t \t\n\r\f\va\u00a0\u00a0b \x00w\x00t d", "tcaf\xe9 \xff\xfe\x00tx",
		"t\ufffd x\x00i \x00t y", "t\xc2\x00w\x00t\xc2\xa0\xc2", "ta \x00W\x00t \x00w\x00t\u00a0\x00tb", "t \x00t\x00tz", "ta\x00t\x00tb",
	} {
		f.Add(s)
	}
	collapse := func(s string) string {
		var b strings.Builder
		space := false
		for _, r := range s {
			if htmlSpace(r) {
				if !space {
					b.WriteByte(' ')
				}
				space = true
				continue
			}
			space = false
			b.WriteRune(r)
		}
		return b.String()
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := newHTMLPart()
		var text []string
		var textWS, textInv []bool
		for _, c := range strings.Split(s, "\x00") {
			if c == "" {
				continue
			}
			kind, body := c[0], c[1:]
			ws, invisible := false, kind == 'i'
			switch {
			case kind == 'w' || kind == 'W':
				ws, body = true, map[byte]string{'w': "\n", 'W': " "}[kind]
			}
			// (An empty text too: the tokenizer gives none, but display
			// must not depend on it.)
			n := len(text)
			if ws {
				if n > 0 && !textWS[n-1] && !textInv[n-1] {
					text[n-1] = strings.TrimSuffix(text[n-1], " ")
				}
				text, textWS, textInv = append(text, body), append(textWS, true), append(textInv, invisible)
				h.display(body, true, invisible)
				continue
			}
			if n > 0 { // (what textEvent reads, for html_obfuscation)
				if end, _ := utf8.DecodeLastRuneInString(text[n-1]); end != h.lastEnd {
					t.Fatalf("%q: chunk %d %q ends in %q, display says %q", s, n-1, text[n-1], end, h.lastEnd)
				}
			}
			v := collapse(body)
			if n > 0 && !invisible && textWS[n-1] {
				v = strings.TrimPrefix(v, " ")
			}
			text, textWS, textInv = append(text, v), append(textWS, false), append(textInv, invisible)
			h.display(body, false, invisible)
		}
		joined := strings.Join(text, "")
		want := 0
		for _, r := range joined {
			if !unicode.IsSpace(r) {
				want++
			}
		}
		if h.nonSpaceLen != want {
			t.Errorf("%q: %d runes not space, rendered %q has %d", s, h.nonSpaceLen, joined, want)
		}
		if n := len(text); n > 0 {
			if end, _ := utf8.DecodeLastRuneInString(text[n-1]); end != h.lastEnd {
				t.Errorf("%q: rendered %q ends in %q, display says %q", s, joined, end, h.lastEnd)
			}
		}
	})
}

// hasWordChar answers as Perl's \w on characters: a letter of any script, a
// mark, a decimal digit or letter number, connector punctuation, the joiners.
func TestHasWordChar(t *testing.T) {
	re := regexp.MustCompile(`[\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\x{200c}\x{200d}]`)
	for _, s := range []string{"", "a", "-", "--_", "é", "ü-ß", "Ωmega", "9", "...Z", " \t", "\xff\xfe", "日本", "x日本", "日本_", "٣", "Ⅻ", "‿", "€", "—"} {
		if got, want := hasWordChar(s), re.MatchString(s); got != want {
			t.Errorf("%q: %v, the regexp %v", s, got, want)
		}
	}
}

// cssBackgroundLayers splits as parse_css_background does (each row checked
// against it): commas and spaces inside parentheses and quotes hold.
func TestCSSBackgroundLayers(t *testing.T) {
	for in, want := range map[string]string{
		"rgb(81, 29, 72)":                 "[rgb(81, 29, 72)]",
		"url('a, b.png') no-repeat, #fff": "[url('a, b.png') no-repeat] [#fff]",
		"#000 url(\"x y.png\") 35%":       `[#000 url("x y.png") 35%]`,
		"red,":                            "[red]",
		"  ":                              "",
		"rgb(1,2,3)blue":                  "[rgb(1,2,3) blue]",
		// (parse_css_background does not nest parentheses: SpamAssassin's own answer.)
		`linear-gradient(rgba(0,0,0,.5), "q") red`: `[linear-gradient(rgba(0,0,0,.5)] ["q") red]`,
	} {
		var got []string
		for _, l := range cssBackgroundLayers(in) {
			got = append(got, "["+strings.Join(l, " ")+"]")
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%q: %s, want %s", in, g, want)
		}
	}
}

// The HTML analysis reads a part's shared recording (the renderer's and the
// Bayes tokenizer's) as it reads a tokenizing of its own, on the corpus's
// HTML parts.
func TestAnalyzeHTMLRecorded(t *testing.T) {
	n := 0
	filepath.Walk(corpus.Dir(), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || n >= 400 {
			return nil
		}
		raw, err := readCorpus(path)
		if err != nil {
			return nil
		}
		m, _ := scan.Parse(bytes.NewReader(raw))
		for i := range m.Parts {
			p := &m.Parts[i]
			if p.EffectiveType != "text/html" || p.Text == "" {
				continue
			}
			n++
			p.RenderHTMLLinks(true) // (the renderer records the part first, as it may in a check)
			own := analyzeHTMLText(p.Text)
			shared := analyzeHTML(p.Text, func(v scan.HTMLVisitor) { p.WalkHTML(p.Text, v) })
			if !reflect.DeepEqual(own, shared) {
				t.Errorf("%s part %d: the analysis of the recording differs from its own", path, i)
			}
		}
		return nil
	})
	if n == 0 {
		t.Skip("no corpus: run ../shared/corpus/get-corpus.sh")
	}
}

// When a free mail sender makes FreeMail's check_freemail_replyto read the
// body, SpamAssassin's _parse_body strips the quoted addresses from the body
// text in place, and the body rules after it read what is left: with From at
// gmail.com, neither the address of "jo@gmail.com wrote:" nor the word is there
// for them; with any other From, or without a rule that calls it, both are
// (spamassassin's own answers, run with these rules added to its stock ones).
func TestFreemailStripsBody(t *testing.T) {
	body := "\nOn Monday, jo@gmail.com wrote:\nhello\n"
	const words = `
body     QUOTED_ADDR /jo\@gmail\.com/
score    QUOTED_ADDR 1
body     WROTE_WORD  /wrote:/
score    WROTE_WORD  1
`
	withEval := mustLoadRules(t, map[string]string{"t.cf": "freemail_domains gmail.com\n" + words + `
header   __FM_REPLY  eval:check_freemail_replyto('reply')
meta     FM_REPLY    __FM_REPLY
score    FM_REPLY    1
`})
	without := mustLoadRules(t, map[string]string{"t.cf": "freemail_domains gmail.com\n" + words})
	for _, tc := range []struct {
		name string
		set  *Set
		from string
		want []string
	}{
		{"free mail sender", withEval, "jo@gmail.com", nil},
		{"other sender", withEval, "jo@example.org", []string{"QUOTED_ADDR", "WROTE_WORD"}},
		{"no FreeMail eval", without, "jo@gmail.com", []string{"QUOTED_ADDR", "WROTE_WORD"}},
	} {
		m := msgOf(t, "From: "+tc.from+"\nSubject: hi\nMessage-ID: <1@x>\n"+body)
		if got := hitNames(t, tc.set, m); !slices.Equal(got, tc.want) {
			t.Errorf("%s: hits %v, want %v", tc.name, got, tc.want)
		}
	}
}

// analyzeHTMLText is analyzeHTML of a text of its own (tokenized for it), for
// the tests that hold the analysis of a part's recording to it.
func analyzeHTMLText(src string) *htmlPart {
	return analyzeHTML(src, func(v scan.HTMLVisitor) { scan.WalkHTML(src, v) })
}

// FuzzFromDomain: a From field is the sender's; whatever it holds, reading its
// domain and judging it never panics, and a domain mailDomain takes is one
// the public suffix list's ICANN part (or a private network) ends.
func FuzzFromDomain(f *testing.F) {
	for _, s := range []string{`Correios <noreply@correios>`, `"a\"@b" <"a\"@b"@example.org>`, `Team <x@news,example,com>`,
		`<no-reply@𝗞𝗶𝗻𝗱𝗲𝗿.de>`, `Müller <info@müller.de>`, `<"noreply@icloud.nl">`, `a@[192.0.2.1]`, `<>`, `x@.`, `x@-.-`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		d, ok := fromDomain(field)
		if !ok || !mailDomain(d) {
			return
		}
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		if a, ok := ASCIIHost(d); ok {
			d = a
		}
		tld := d[strings.LastIndexByte(d, '.')+1:]
		if !KnownTLD(tld) && !privateTLDs[tld] {
			t.Errorf("%q: domain %q taken, under no known top-level domain", field, d)
		}
	})
}

// FuzzNameComma: a field nameComma calls a name with a comma is never one
// address as RFC 5322 reads it (net/mail), and one it passes never panics it.
func FuzzNameComma(f *testing.F) {
	for _, s := range []string{`SHEIN, <info@example.com>`, `"Doe, John" <j@example.com>`, `A (b, c) <a@example.com>`,
		`=?UTF-8?Q?Doe,_J?= <j@example.com>`, `a@example.com, b@example.org`, `"x\", y" <x@y.example>`, `((,)) <a@b>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		if !nameComma(field) {
			return
		}
		if a, err := mail.ParseAddress(field); err == nil {
			t.Errorf("%q: a name with a comma, but net/mail reads one address, %q", field, a)
		}
	})
}

// FuzzAddressInComment: a field addressInComment says has its only address in
// a comment is no address as RFC 5322 reads it (net/mail).
func FuzzAddressInComment(f *testing.F) {
	for _, s := range []string{`Dating-Experte,(<noreply@team.mobile.de>)`, `(<a@b.example>)`, `"a@b" (<c@d.example>)`,
		`a@b.example (Full Name <a@b.example>)`, `Team (Sales)`, `x ((<a@b>)) <c@d>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		if !addressInComment(field) {
			return
		}
		if a, err := mail.ParseAddress(field); err == nil {
			t.Errorf("%q: the address only in a comment, but net/mail reads %q", field, a)
		}
	})
}

// FuzzHomographHost: a host homographHost calls a look-alike holds letters of
// Cyrillic or Greek, or a combining mark of another alphabet, written as they
// are or in an xn-- label; plain ASCII names never are.
func FuzzHomographHost(f *testing.F) {
	for _, s := range []string{"pаypal.com", "xn--pypal-4ve.com", "аррӏе.com", "bücher.de", "пример.рф", "xn--", "a.xn--p1ai", ".", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !homographHost(host) {
			return
		}
		u, err := idna.Punycode.ToUnicode(host)
		if err != nil {
			u = host
		}
		other := func(r rune) bool {
			return unicode.In(r, unicode.Cyrillic, unicode.Greek) || unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Inherited, r)
		}
		if !strings.ContainsFunc(u, other) {
			t.Errorf("%q: a look-alike host, but no Cyrillic or Greek letter, nor another alphabet's mark, in %q", host, u)
		}
	})
}

// FuzzMayContain holds mayContain with fold to what (?i) finds: an ASCII needle
// is in any text exactly where the expression matches it.
func FuzzMayContain(f *testing.F) {
	for _, c := range [][2]string{{"Re: \u212aate", "kate"}, {"\u017fupport", "SUPPORT"}, {"Grüße an USER@example.com", "user@example.com"}, {"Straße", "strasse"}, {"\xff\xfeab", "AB"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, s, needle string) {
		if !isASCII(needle) {
			return
		}
		want := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(needle)).MatchString(s)
		if got := mayContain(s, needle, true); got != want {
			t.Errorf("mayContain(%q, %q, true) = %v, (?i) finds %v", s, needle, got, want)
		}
	})
}

// FuzzSplitWord holds splitWord, which skips ASCII text fast, to the
// expression it stands for.
func FuzzSplitWord(f *testing.F) {
	for _, s := range []string{"P\u200ca\u200cy\u200cPal", "A\u073fm\u073fa\u073fz\u073fon", "Ver\u00adsand\u00adkos\u00adten", "a\u00adb\u00adc", "x\u200b\u200bé\u200bl\u200blo", "w\u200c\u200c\u200co\u200cr\u200cd\u200c", "\xffa\u200bb\u200bc\u200bd"} {
		f.Add(s)
	}
	re := regexp.MustCompile(`(?:[A-Za-z][\x{00AD}\x{034F}\x{200B}-\x{200D}\x{2060}\x{FEFF}\x{0591}-\x{05C7}\x{064B}-\x{065F}\x{0730}-\x{074A}]+){3}[A-Za-z]`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := splitWord(s), re.MatchString(s); got != want {
			t.Errorf("splitWord(%q) = %v, the expression finds %v", s, got, want)
		}
	})
}
