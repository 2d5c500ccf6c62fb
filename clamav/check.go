package clamav

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// Scanner is what the check needs from clamd; *Client is one.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (string, error)
}

// Check is the virus check of the filter pipeline.
type Check struct {
	Clamd Scanner
	// WholeMessage also streams the raw message, so clamd's own mail parser and
	// phishing signatures see it as sent. A part with no transfer encoding
	// (scan.Leaf.Verbatim) is then not streamed again: its bytes are in the
	// message as they are, and clamd scans them there, raw and as the part its
	// mail parser extracts. Each stream costs clamd about a millisecond however
	// small, and most mail's text parts are such parts.
	WholeMessage bool
	// MaxStream is the most clamd takes in one stream (Client.MaxStream; 0: no
	// limit known). A message larger than that cannot be scanned whole: all its
	// parts are streamed.
	MaxStream int64
	// Timeout bounds each INSTREAM call (the pipeline's deadline bounds them all).
	Timeout time.Duration
	// AcceptOnError (on_scan_error = "accept") delivers mail clamd could not scan,
	// marked "X-Virus-Status: Unscanned (reason)"; otherwise the check fails (451).
	AcceptOnError bool
	// AcceptTooLarge (on_too_large = "accept") does the same for parts over clamd's
	// StreamMaxLength; otherwise they are a failure too.
	AcceptTooLarge bool
}

// Name implements filter.Check.
func (c *Check) Name() string { return "clamav" }

// ScansForViruses keeps the virus scan running for allow-listed mail.
func (c *Check) ScansForViruses() {}

const (
	smallPart     = 256 << 10
	smallInFlight = 4
)

// errStop ends the walk once the outcome is known.
var errStop = errors.New("stop")

const wholeMessage = "whole message"

type finding struct {
	virus, part string
	tooLarge    []string
	errs        []error
}

// Check implements filter.Check: every decoded leaf part, and optionally the raw
// message, go to clamd (each part once: see WholeMessage); the first signature
// found ends the scan. Its result says how long the scans waited for a free
// connection to clamd ("clamav_wait").
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	ctx, sc := withScans(ctx, m.Size)
	r := c.check(ctx, m)
	// (check has waited for every scan it started)
	r.Times = []filter.Timing{{Step: c.Name() + "_wait", Duration: time.Duration(sc.waited.Load())}}
	return r
}

func (c *Check) check(ctx context.Context, m *filter.Message) filter.Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var f finding
	record := func(part string, sig string, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case sig != "":
			if f.virus == "" || f.part == wholeMessage {
				f.virus, f.part = sig, part // the part that has it, when we know
			}
			if part == wholeMessage {
				return false // let the part scans name the infected part
			}
			cancel() // the verdict is known: stop the whole-message scan
			return true
		case errors.Is(err, ErrSizeLimit):
			f.tooLarge = append(f.tooLarge, part)
		case err != nil && f.virus == "":
			f.errs = append(f.errs, fmt.Errorf("%s: %w", part, err))
			// The message cannot be called clean any more: without on_scan_error
			// = accept the answer is 451 whatever the other streams hold, so do
			// not wait for a failing clamd once per part. With it, the others
			// are still scanned (a virus in one is still refused), unless clamd
			// ran out of time: one that does not answer would hold each of them
			// as long.
			return !c.AcceptOnError || errors.Is(err, context.DeadlineExceeded)
		}
		return false
	}

	var wg sync.WaitGroup
	whole := c.WholeMessage && (c.MaxStream <= 0 || m.Size <= c.MaxStream)
	// The parts wait for the whole message's scan. clamd's mail parser decodes
	// the parts of the whole message and scans each, and clamd remembers the
	// digests of what it found clean: a decoded part streamed afterwards, the
	// same bytes, is then a lookup, not a second scan. Streamed alongside, both
	// missed, and an attachment (a PDF: 100 ms and more) was parsed twice.
	wholeDone := make(chan struct{})
	var wholeRefused atomic.Bool // clamd took the message as too large: scan its parts
	var stop atomic.Bool         // the outcome is known: no more scans
	if c.WholeMessage {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(wholeDone)
			sig, err := c.scan(ctx, m.RawReader())
			wholeRefused.Store(errors.Is(err, ErrSizeLimit))
			// (A failure stops the parts' scans as record says: a clamd that
			// failed, a timeout above all, would likely fail each in turn.)
			if record(wholeMessage, sig, err) {
				stop.Store(true)
			}
		}()
	} else {
		close(wholeDone)
	}
	afterWhole := func() bool {
		select {
		case <-wholeDone:
			return ctx.Err() == nil && !stop.Load()
		case <-ctx.Done():
			return false
		}
	}
	// clamd spends milliseconds on every stream however small, so small parts are read
	// into memory and scanned concurrently while the walk goes on; a large part is
	// streamed as it is decoded. At most smallInFlight small parts wait in memory.
	slots := make(chan struct{}, smallInFlight)
	visit := func(l scan.Leaf, body io.Reader) error {
		if stop.Load() || ctx.Err() != nil {
			return errStop
		}
		if whole && l.Verbatim {
			// Scanned in the whole message, unless clamd refused that as
			// too large (its StreamMaxLength below our stream_max_length).
			if !afterWhole() {
				return errStop
			}
			if !wholeRefused.Load() {
				return nil
			}
		}
		var small bytes.Buffer
		n, err := io.CopyN(&small, body, smallPart+1)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n == 0 {
			return nil // empty part: nothing to scan
		}
		if n <= smallPart {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				if !afterWhole() {
					return // (the deadline, a virus found, clamd failed: recorded)
				}
				// (a bytes.Reader, which Client.Scan can rewind to scan again)
				sig, err := c.scan(ctx, bytes.NewReader(small.Bytes()))
				if record(describe(l), sig, err) {
					stop.Store(true)
				}
			}()
			return nil
		}
		if !afterWhole() {
			return errStop
		}
		sig, err := c.scan(ctx, io.MultiReader(&small, body))
		if record(describe(l), sig, err) {
			return errStop
		}
		return nil
	}
	var werr error
	// When every part is in the whole message as it is, and the parse saw them
	// all, the whole message's scan is the parts' too: no second walk of the
	// MIME tree, unless clamd refused the message.
	walk := !whole || m.Parsed == nil || !m.Parsed.Verbatim() || afterWhole() && wholeRefused.Load()
	if walk {
		_, _, werr = scan.Walk(m.RawReader(), visit)
	}
	wg.Wait()
	if werr != nil && !errors.Is(werr, errStop) {
		record("message", "", werr)
	}
	if err := ctx.Err(); err != nil {
		// Cancelled by us only once a virus is found; otherwise the deadline (or the
		// caller) stopped the walk, and the parts after it were never scanned.
		record("message", "", err)
	}

	if f.virus != "" {
		return filter.Result{Virus: f.virus, VirusPart: f.part}
	}
	var r filter.Result
	status := "Clean"
	switch {
	case len(f.errs) > 0:
		err := errors.Join(f.errs...)
		if !c.AcceptOnError {
			return filter.Result{Err: err}
		}
		status = "Unscanned (" + oneLine(err) + ")"
	case len(f.tooLarge) > 0:
		if !c.AcceptTooLarge {
			return filter.Result{Err: fmt.Errorf("%w: %s", ErrSizeLimit, strings.Join(f.tooLarge, ", "))}
		}
		status = "Unscanned (exceeds StreamMaxLength: " + strings.Join(f.tooLarge, ", ") + ")"
	}
	r.Headers = []filter.Header{{Name: "X-Virus-Scanned", Value: "postern/clamav"}, {Name: "X-Virus-Status", Value: status}}
	return r
}

func (c *Check) scan(ctx context.Context, r io.Reader) (string, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	return c.Clamd.Scan(ctx, r)
}

// describe names a part for the log: its file name and content type.
func describe(l scan.Leaf) string {
	if l.Filename != "" {
		return fmt.Sprintf("%q (%s)", l.Filename, l.ContentType)
	}
	return l.ContentType + " part"
}

// oneLine makes an error fit in a header value.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
