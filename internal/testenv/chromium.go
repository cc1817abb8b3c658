package testenv

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

var (
	chromeOnce sync.Once
	chromeErr  string
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Chromium returns the path of headless Chromium for browser tests. On a
// fresh machine of this project's kind it is not installed yet: as root with
// apt it installs Debian's package (about a minute, once), so the README's
// test command works as written; otherwise the test fails saying what to do.
func Chromium(t testing.TB) string {
	t.Helper()
	chromeOnce.Do(func() {
		if _, err := os.Stat(ChromiumPath); err == nil {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
			chromeErr = "headless Chromium is needed at " + ChromiumPath + ": install Debian's chromium package (apt-get install chromium)"
			return
		}
		t.Log("installing Debian's chromium package for the browser test (once)")
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "chromium"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				chromeErr = "apt-get " + args[0] + " chromium: " + err.Error() + "\n" + string(out)
				return
			}
		}
		if _, err := os.Stat(ChromiumPath); err != nil {
			chromeErr = "chromium installed but " + ChromiumPath + " is missing"
		}
	})
	if chromeErr != "" {
		t.Fatal(chromeErr)
	}
	return ChromiumPath
}
