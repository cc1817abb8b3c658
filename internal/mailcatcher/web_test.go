package mailcatcher

import "testing"

func TestLinkifyEscapesAndLinks(t *testing.T) {
	got := string(linkify("Open <b> http://127.0.0.1:8080/invitations/lri_x-Y_1 now"))
	want := `Open &lt;b&gt; <a href="http://127.0.0.1:8080/invitations/lri_x-Y_1" target="_blank" rel="noopener">http://127.0.0.1:8080/invitations/lri_x-Y_1</a> now`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
