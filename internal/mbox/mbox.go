// Package mbox reads and writes the mbox format as far as Postern needs it: the
// "From " separator line that starts each message, and the ">From " escaping of
// body lines that would look like one.
package mbox

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// StripFrom drops a leading "From sender date" separator line, which is not part of
// the message (the SpamAssassin corpus files start with one).
func StripFrom(b []byte) []byte {
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[i+1:]
		}
	}
	return b
}

// Split returns the messages of an mbox file, separators removed and escaped
// lines unescaped (">From ", ">>From ": one '>' less each, mboxrd). A file that does not start with "From " is one message. A message
// starts at a separator: a "From " line with a time of day among its words, as
// in "From sender Thu Jan  1 00:00:00 2004" (isSeparator). A body line a writer
// left unescaped ("From thrilling slots to classic casino tables") does not cut
// a message in two.
func Split(data []byte) [][]byte {
	if !bytes.HasPrefix(data, []byte("From ")) {
		return [][]byte{data}
	}
	var msgs [][]byte
	add := func(chunk []byte) {
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			chunk = chunk[i+1:] // the rest of the separator line
		} else {
			chunk = nil
		}
		msg := unescape(chunk)
		if len(bytes.TrimSpace(msg)) > 0 {
			msgs = append(msgs, msg)
		}
	}
	start := 0 // the current message's separator line
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("\nFrom "))
		if j < 0 {
			break
		}
		at := i + j + 1
		line := data[at:]
		if k := bytes.IndexByte(line, '\n'); k >= 0 {
			line = line[:k]
		}
		if isSeparator(line) {
			add(withoutBlankEnd(data[start:at]))
			start = at
		}
		i = at
	}
	add(withoutBlankEnd(data[start:]))
	return msgs
}

// withoutBlankEnd drops the blank line that ends a message in most mboxes
// (Append writes none).
func withoutBlankEnd(chunk []byte) []byte {
	if bytes.HasSuffix(chunk, []byte("\n\n")) {
		return chunk[:len(chunk)-1]
	}
	return chunk
}

// escaped reports whether a line is a "From " line escaped (mboxrd): one or
// more '>' before "From ".
func escaped(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return bytes.HasPrefix(line[i:], []byte("From "))
}

// unescape drops one '>' from each escaped line (mboxrd; mboxo's ">From " too).
func unescape(msg []byte) []byte {
	if !bytes.Contains(msg, []byte(">From ")) {
		return msg
	}
	out := make([]byte, 0, len(msg))
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		if len(line) > 0 && line[0] == '>' && escaped(line) {
			line = line[1:]
		}
		out = append(out, line...)
	}
	return out
}

// isSeparator reports whether a "From " line is an mbox separator: the sender and
// a date, whose time of day (h:mm or hh:mm:ss) is the one part every writer's
// date format has.
func isSeparator(line []byte) bool {
	fields := bytes.Fields(line)
	if len(fields) < 3 {
		return false
	}
	for _, f := range fields[2:] {
		if isTimeOfDay(f) {
			return true
		}
	}
	return false
}

func isTimeOfDay(f []byte) bool {
	parts := bytes.Split(f, []byte(":"))
	if len(parts) < 2 || len(parts) > 3 || len(parts[0]) < 1 || len(parts[0]) > 2 {
		return false
	}
	for i, p := range parts {
		if i > 0 && len(p) != 2 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// Append writes msg to w as one mbox message with LF line ends, tagged with an
// X-Eval-Id header so a tool can match what comes back to what it sent. No
// blank line is written after it: SpamAssassin's mbox reader ends a message
// at the next separator and keeps that line, a newline more at the end of the
// message's last part than the file has (HTML_IMAGE_ONLY_04 became _08 on a
// part at _04's upper bound, and HTML_IMAGE_ONLY_20 _24 on one at 2,000).
func Append(w *bytes.Buffer, id int, msg []byte) {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	fmt.Fprintf(w, "From eval@localhost Thu Jan  1 00:00:00 2004\nX-Eval-Id: %d\n", id)
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		// mboxo, as SpamAssassin reads it (it unescapes nothing): ">From " is
		// written as it is, and comes back from Split as "From ".
		if bytes.HasPrefix(line, []byte("From ")) {
			w.WriteByte('>')
		}
		w.Write(line)
	}
	if !bytes.HasSuffix(msg, []byte("\n")) {
		w.WriteByte('\n')
	}
}

// SpamHeaders reads spamassassin's --mbox output for messages written with Append and
// returns, by their X-Eval-Id, the X-Spam-* header fields it added to each (name
// without "X-Spam-", value unfolded). The tool has spamassassin copy the id with
// --cf='add_header all Evalid _HEADER(X-Eval-Id)_', read back as "Evalid".
func SpamHeaders(out []byte) map[int]map[string]string {
	got := map[int]map[string]string{}
	var fields map[string]string
	var last string // the field a continuation line belongs to
	inHeader := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "From "):
			inHeader, fields, last = true, map[string]string{}, ""
		case !inHeader:
		case line == "":
			inHeader = false
			if id, err := strconv.Atoi(fields["Evalid"]); err == nil {
				got[id] = fields
			}
		case (line[0] == ' ' || line[0] == '\t') && last != "":
			fields[last] += " " + strings.TrimSpace(line)
		default:
			last = ""
			if name, value, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(name, "X-Spam-") {
				last = strings.TrimPrefix(name, "X-Spam-")
				fields[last] = strings.TrimSpace(value)
			}
		}
	}
	return got
}
