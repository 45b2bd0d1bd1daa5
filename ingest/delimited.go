package ingest

import "bytes"

// The PostgreSQL COPY text and csv formats, as COPY FROM reads them.
//
// text: fields separated by Delimiter ('\t'); a field equal to Null (`\N`), compared
// before de-escaping, is NULL; backslash escapes \b \f \n \r \t \v, \NNN (octal, 1-3
// digits), \xHH (hex, 1-2 digits), and a backslash before any other character stands
// for that character (\\, \<delimiter>). A backslash at the end of a line escapes
// the newline: the row goes on on the next line with a newline in the data.
//
// csv: fields separated by Delimiter (','); Quote ('"') quotes any part of a field,
// inside quotes Escape (default Quote) before Quote or Escape stands for that
// character; quoted fields may span lines. An unquoted field equal to Null ("") is
// NULL, so an unquoted empty field is NULL and a quoted empty one ("") is the empty
// string.
//
// Both: a line "\." alone ends the data; CRLF line endings are accepted; with Header
// the first record is skipped; a record with too few or too many fields is rejected.

// field is one field of a record: its value (a slice of the record, or of
// d.scratch once de-escaped) and whether it is NULL.
type field struct {
	v    []byte
	null bool
	esc  bool // Text: has a backslash, needs de-escaping
}

// csvState is the reusable state of the text and csv decoders.
type csvState struct {
	rec     []byte // a record that spans lines, joined
	fields  []field
	inQuote bool // csv: the record so far ends inside quotes
}

func (d *decoder) runCSV() error  { return d.runDelimited() }
func (d *decoder) runText() error { return d.runDelimited() }

func (d *decoder) runDelimited() error {
	header := d.opts.Header
	for {
		line, tooLong, terminated, ok := d.lr.next()
		if !ok {
			return d.lr.readErr()
		}
		if err := d.checkCtx(); err != nil {
			return err
		}
		rec, tooLong, unterminated := d.record(line, tooLong, terminated)
		if header {
			header = false
			continue
		}
		if tooLong {
			d.rejectTooLong()
			continue
		}
		if unterminated {
			if d.opts.Format == CSV {
				d.rejectf("unterminated CSV quoted field")
			} else {
				d.rejectf("unterminated backslash escape at end of data")
			}
			continue
		}
		if d.opts.Format == CSV {
			rec = trimCR(rec)
		} else if n := len(rec); n > 0 && rec[n-1] == '\r' && trailingBackslashes(rec[:n-1])%2 == 0 {
			rec = rec[:n-1]
		}
		if isEndMarker(rec) {
			return nil
		}
		if !d.decodeRecord(rec) {
			continue
		}
		if err := d.commitRow(); err != nil {
			return err
		}
	}
}

// decodeRecord stages the row of one record (its terminator and any '\r' before
// it removed) of the decoder's format. It reports false after rejecting it.
func (d *decoder) decodeRecord(rec []byte) bool {
	if d.opts.Format == CSV {
		return d.decodeCSVRecord(rec)
	}
	return d.decodeTextRecord(rec)
}

func isEndMarker(rec []byte) bool { return len(rec) == 2 && rec[0] == '\\' && rec[1] == '.' }

func trailingBackslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

// record returns the record that starts with line: the line itself, or, when it
// goes on on the next lines (csv: a newline inside quotes; text: an escaped
// newline), the lines joined by '\n'. tooLong reports a record over the limit;
// unterminated that the input ended inside the record. Rejects name the line the
// record started on.
func (d *decoder) record(line []byte, tooLong, terminated bool) (rec []byte, _, unterminated bool) {
	d.csv.inQuote = false
	if !d.continues(line) {
		return line, tooLong, false
	}
	first := d.lr.recordLine
	rec = append(d.csv.rec[:0], line...)
	for {
		if !terminated {
			unterminated = true
			break
		}
		next, nextTooLong, term, ok := d.lr.next()
		if !ok {
			unterminated = true
			break
		}
		terminated = term
		if nextTooLong || len(rec)+1+len(next) > d.maxLine {
			tooLong = true
		}
		if !tooLong {
			rec = append(rec, '\n')
			rec = append(rec, next...)
		}
		if !d.continues(next) {
			break
		}
	}
	d.lr.recordLine = first
	d.csv.rec = rec[:0]
	return rec, tooLong, unterminated
}

// continues reports whether the record goes on after seg, its latest line.
func (d *decoder) continues(seg []byte) bool {
	if d.opts.Format == Text {
		return trailingBackslashes(seg)%2 == 1
	}
	// PostgreSQL's CopyReadLineText: a quote toggles the state unless it follows an
	// escape inside quotes; an escape escapes only a quote or another escape.
	quote, escape := d.opts.Quote, d.opts.Escape
	if !d.csv.inQuote && bytes.IndexByte(seg, quote) < 0 {
		return false
	}
	in := d.csv.inQuote
	if escape == quote { // a doubled quote just toggles twice
		for _, c := range seg {
			if c == quote {
				in = !in
			}
		}
		d.csv.inQuote = in
		return in
	}
	lastEsc := false // on each line: the newline before it was no escape
	for _, c := range seg {
		if in && c == escape {
			lastEsc = !lastEsc
		}
		if c == quote && !lastEsc {
			in = !in
		}
		if c != escape {
			lastEsc = false
		}
	}
	d.csv.inQuote = in
	return in
}

// checkFields applies a record's fields to the staged row. It reports false after
// rejecting the line.
func (d *decoder) checkFields(fields []field) bool {
	if len(fields) > len(d.targets) {
		d.rejectf("extra data after last expected column")
		return false
	}
	if len(fields) < len(d.targets) {
		d.rejectf("missing data for column %q", d.cols[d.targets[len(fields)]].name)
		return false
	}
	d.beginRow()
	for k := range fields {
		f := &fields[k]
		col := d.targets[k]
		if f.null {
			continue
		}
		v := f.v
		if f.esc {
			v = d.textUnescape(v)
		}
		if !d.setText(col, v) {
			d.rejectStaged()
			return false
		}
	}
	return true
}

// decodeTextRecord stages the row of one text-format record.
func (d *decoder) decodeTextRecord(rec []byte) bool {
	d.prepareScratch(len(rec))
	fields := d.csv.fields[:0]
	defer func() { d.csv.fields = fields[:0] }()
	delim := d.opts.Delimiter
	null := *d.opts.Null
	limit := len(d.targets) + 1
	start, esc := 0, false
	for i := 0; ; i++ {
		if i == len(rec) || rec[i] == delim {
			v := rec[start:i]
			fields = append(fields, field{v: v, null: string(v) == null, esc: esc})
			if i == len(rec) || len(fields) == limit {
				break
			}
			start, esc = i+1, false
			continue
		}
		if rec[i] == '\\' {
			if i+1 == len(rec) {
				d.rejectf("unterminated backslash escape at end of line")
				return false
			}
			esc = true
			i++
		}
	}
	return d.checkFields(fields)
}

// textUnescape de-escapes a text-format field into d.scratch.
func (d *decoder) textUnescape(v []byte) []byte {
	out0 := len(d.scratch)
	for len(v) > 0 {
		k := bytes.IndexByte(v, '\\')
		if k < 0 {
			d.appendScratch(v)
			break
		}
		d.appendScratch(v[:k])
		v = v[k+1:] // the field splitter guarantees a byte after the backslash
		c := v[0]
		v = v[1:]
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'v':
			c = '\v'
		case '0', '1', '2', '3', '4', '5', '6', '7':
			val := c - '0'
			for j := 0; j < 2 && len(v) > 0 && v[0] >= '0' && v[0] <= '7'; j++ {
				val = val<<3 + (v[0] - '0') // the high bits of \4NN..\7NN drop, as in PostgreSQL
				v = v[1:]
			}
			c = val
		case 'x':
			if len(v) > 0 && hexVal(v[0]) >= 0 {
				val := byte(hexVal(v[0]))
				v = v[1:]
				if len(v) > 0 && hexVal(v[0]) >= 0 {
					val = val<<4 | byte(hexVal(v[0]))
					v = v[1:]
				}
				c = val
			}
		}
		d.appendScratchByte(c)
	}
	return d.scratch[out0:]
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// decodeCSVRecord stages the row of one csv-format record (terminator removed).
func (d *decoder) decodeCSVRecord(rec []byte) bool {
	d.prepareScratch(len(rec))
	fields := d.csv.fields[:0]
	defer func() { d.csv.fields = fields[:0] }()
	delim, quote, escape := d.opts.Delimiter, d.opts.Quote, d.opts.Escape
	null := *d.opts.Null
	limit := len(d.targets) + 1
	n := len(rec)
	i := 0
	for {
		start := i
		for i < n && rec[i] != delim && rec[i] != quote {
			i++
		}
		if i == n || rec[i] == delim {
			v := rec[start:i]
			fields = append(fields, field{v: v, null: string(v) == null})
		} else {
			// A quoted part: the value is assembled in scratch, and is never NULL.
			out0 := len(d.scratch)
			d.appendScratch(rec[start:i])
			for i < n && rec[i] == quote {
				i++
				for {
					if i >= n {
						d.rejectf("unterminated CSV quoted field")
						return false
					}
					c := rec[i]
					if c == escape && i+1 < n && (rec[i+1] == quote || rec[i+1] == escape) {
						d.appendScratchByte(rec[i+1])
						i += 2
						continue
					}
					i++
					if c == quote {
						break
					}
					d.appendScratchByte(c)
				}
				s := i
				for i < n && rec[i] != delim && rec[i] != quote {
					i++
				}
				d.appendScratch(rec[s:i])
			}
			fields = append(fields, field{v: d.scratch[out0:]})
		}
		if i == n || len(fields) == limit {
			break
		}
		i++ // the delimiter
	}
	return d.checkFields(fields)
}
