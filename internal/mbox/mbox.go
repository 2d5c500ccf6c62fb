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

// Split returns the messages of an mbox file, separators removed and ">From "
// unescaped. A file that does not start with "From " is one message.
func Split(data []byte) [][]byte {
	if !bytes.HasPrefix(data, []byte("From ")) {
		return [][]byte{data}
	}
	var msgs [][]byte
	for _, chunk := range bytes.Split(data, []byte("\nFrom ")) {
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			chunk = chunk[i+1:] // the rest of the separator line
		}
		msg := bytes.ReplaceAll(chunk, []byte("\n>From "), []byte("\nFrom "))
		if len(bytes.TrimSpace(msg)) > 0 {
			msgs = append(msgs, msg)
		}
	}
	return msgs
}

// Append writes msg to w as one mbox message with LF line ends, tagged with an
// X-Eval-Id header so a tool can match what comes back to what it sent.
func Append(w *bytes.Buffer, id int, msg []byte) {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	fmt.Fprintf(w, "From eval@localhost Thu Jan  1 00:00:00 2004\nX-Eval-Id: %d\n", id)
	for _, line := range bytes.SplitAfter(msg, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("From ")) {
			w.WriteByte('>')
		}
		w.Write(line)
	}
	if !bytes.HasSuffix(msg, []byte("\n")) {
		w.WriteByte('\n')
	}
	w.WriteByte('\n')
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
