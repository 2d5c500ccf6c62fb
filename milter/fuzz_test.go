package milter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// packet frames one milter command: a 4-byte length, the command byte, its data.
func packet(cmd byte, data ...string) []byte {
	var body []byte
	for _, d := range data {
		body = append(body, d...)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)+1))
	return append(append(out, cmd), body...)
}

// session is a whole conversation as an MTA writes it: negotiation, connect, one
// message with GTUBE, quit.
func sessionBytes() []byte {
	var b []byte
	optneg := binary.BigEndian.AppendUint32(nil, 6)
	optneg = binary.BigEndian.AppendUint32(optneg, 0x1ff)
	optneg = binary.BigEndian.AppendUint32(optneg, 0x1fffff)
	for _, p := range [][]byte{
		packet('O', string(optneg)),
		packet('D', "C", "j\x00mx.test\x00"),
		packet('C', "client.example\x00", "4", "\x9c\x40", "192.0.2.7\x00"),
		packet('H', "client.example\x00"),
		packet('M', "<sender@example.org>\x00"),
		packet('R', "<rcpt@example.com>\x00"),
		packet('L', "From\x00", "sender@example.org\x00"),
		packet('L', "Subject\x00", "hello\x00"),
		packet('N'),
		packet('B', "hello\r\n"+gtube+"\r\n"),
		packet('E'),
		packet('Q'),
	} {
		b = append(b, p...)
	}
	return b
}

// FuzzMilterSocket writes arbitrary bytes to a running server, as a broken or hostile
// client might, and requires that the server neither crashes (a panic in a
// connection's goroutine ends the whole test process) nor hangs: once the client has
// sent everything and shut its side, the server must close the connection.
func FuzzMilterSocket(f *testing.F) {
	whole := sessionBytes()
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(append(packet('O', "\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00"), packet('B', "no message started")...))
	f.Add(append(whole[:len(whole)-len(packet('Q'))], whole...)) // a second message on the connection, mangled

	_, addr := startServer(f, testPipeline(), defaultOpts())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(data); err != nil && !isReset(err) {
			t.Fatalf("write: %v", err)
		}
		c.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server neither answered nor closed within 10 s of the client's EOF")
			}
			t.Fatalf("read: %v", err)
		}
	})
}

// TestRawSession checks the fuzzer's main seed: the hand-framed conversation is one
// the server understands (it rejects the GTUBE message), so mutations of it reach the
// message callbacks rather than stopping at negotiation.
func TestRawSession(t *testing.T) {
	_, addr := startServer(t, testPipeline(), defaultOpts())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(sessionBytes()); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatal(err)
	}
	if !bytes.Contains(reply, []byte("y550 5.7.1")) {
		t.Errorf("no 550 reply to the GTUBE message in %q", reply)
	}
}
