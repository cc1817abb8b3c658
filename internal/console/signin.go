package console

import (
	"net/http"
)

// signOut ends the session and its cookie.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := c.endSession(w, r); err != nil {
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/signin?done=signed-out", http.StatusSeeOther)
}
