package testutil

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"strings"
)

// Messages for virus tests, built by the tests themselves (no corpus needed).

func header(subject string) string {
	return "From: sender@example.org\r\nTo: rcpt@example.com\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.org>\r\nMIME-Version: 1.0\r\n"
}

func base64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

// WithAttachment is a multipart/mixed message: a text part and one base64 attachment.
func WithAttachment(subject, filename, ctype string, content []byte) string {
	return header(subject) + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n" +
		"--b1\r\nContent-Type: " + ctype + "; name=\"" + filename + "\"\r\n" +
		"Content-Disposition: attachment; filename=\"" + filename + "\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64Lines(content) + "--b1--\r\n"
}

// Zip returns a zip archive holding one file.
func Zip(name string, content []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(name)
	w.Write(content)
	zw.Close()
	return buf.Bytes()
}

// Forwarded wraps a message as a message/rfc822 attachment.
func Forwarded(subject, inner string) string {
	return header(subject) + "Content-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n" +
		"--fw\r\nContent-Type: text/plain\r\n\r\nForwarded message below.\r\n" +
		"--fw\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--fw--\r\n"
}

// QuotedPrintable is a single-part text message whose body is quoted-printable, so the
// raw bytes do not contain the text as such.
func QuotedPrintable(subject, text string) string {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	w.Write([]byte(text))
	w.Close()
	return header(subject) + "Content-Type: text/plain; charset=us-ascii\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.ReplaceAll(buf.String(), "\n", "\r\n") + "\r\n"
}

// CleanMultipart is an ordinary multipart/alternative message with a PDF-like attachment.
func CleanMultipart(subject string) string {
	return header(subject) + "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n" +
		"--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n" +
		"--a\r\nContent-Type: text/plain\r\n\r\nHello, plain.\r\n" +
		"--a\r\nContent-Type: text/html\r\n\r\n<p>Hello, <b>html</b>.</p>\r\n--a--\r\n" +
		"--m\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64Lines([]byte("%PDF-1.4 not really a pdf\n")) + "--m--\r\n"
}

// Sized returns a message with an attachment of n bytes of harmless data.
func Sized(subject string, n int) string {
	data := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	return WithAttachment(subject, fmt.Sprintf("data-%d.bin", n), "application/octet-stream", data)
}
