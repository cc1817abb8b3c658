package main

import (
	"flag"
	"io"
	"testing"
)

// TestScaleFlagForms: SPEC §7's `starter bench --scale N` defaults N to a
// million, and the docs write `--scale 1000000`: every form gives its N,
// and anything else is refused rather than silently run at another size.
func TestScaleFlagForms(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
		bad  bool
	}{
		{nil, 0, false},
		{[]string{"--scale"}, 1000000, false},
		{[]string{"--scale", "2000"}, 2000, false},
		{[]string{"--scale=2000"}, 2000, false},
		{[]string{"--scale", "--scale-reads", "5"}, 1000000, false},
		{[]string{"--scale=x"}, 0, true},
		{[]string{"--scale", "x"}, 0, true},
		{[]string{"--scale=5", "6"}, 0, true},
		{[]string{"7"}, 0, true},
	} {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var scale scaleFlag
		fs.Var(&scale, "scale", "")
		fs.Int("scale-reads", 200, "")
		err := fs.Parse(c.args)
		if err == nil {
			err = scale.take(fs.Args())
		}
		if (err != nil) != c.bad || (!c.bad && int(scale) != c.want) {
			t.Errorf("%q: scale %d, error %v; want %d, refused %v", c.args, scale, err, c.want, c.bad)
		}
	}
}
