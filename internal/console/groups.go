package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// The groups pages (SPEC §5.6): named sets of users with weights that a
// source's rules rotate over. Every read and change is the API's (GET, PUT,
// DELETE …/groups): any member may read them; owners, admins and managers
// get the forms, and the API refuses anyone else who sends one anyway.

// groupMember is one member of a group as the API shows it.
type groupMember struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// groupOut is a group as GET …/groups lists it.
type groupOut struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Members []groupMember `json:"members"`
}

// memberRow is one user of the org on a group's form: ticked when a member.
type memberRow struct {
	ID, Name, Role string
	Member         bool
	Weight         string
}

type groupPageData struct {
	New    bool
	Name   string
	Groups []groupOut
	Rows   []memberRow
	Edits  bool // the visitor may change groups
}

func groupsPath(v *visit, rest string) string {
	return "/v1/orgs/" + v.Session.User.OrgID + "/groups" + rest
}

func (c *Console) listGroups(r *http.Request, v *visit) ([]groupOut, error) {
	var out struct {
		Groups []groupOut `json:"groups"`
	}
	_, err := c.call(r, v, "GET", groupsPath(v, ""), nil, &out)
	return out.Groups, err
}

// editsGroups says whether v's role may change groups (owner, admin, manager).
func editsGroups(v *visit) bool { u := v.User(); return u != nil && u.Role.AssignsLeads() }

// groupsPage lists the org's groups, with the create form for those who may.
func (c *Console) groupsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	gs, err := c.listGroups(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.renderGroup(w, r, v, http.StatusOK, groupPageData{New: true, Groups: gs}, nil, "", nil)
}

// groupPage is one group's members and weights.
func (c *Console) groupPage(w http.ResponseWriter, r *http.Request, v *visit) {
	g, ok, err := c.findGroup(r, v, r.PathValue("name"))
	if err != nil || !ok {
		c.missingSource(w, r, v, err)
		return
	}
	c.renderGroup(w, r, v, http.StatusOK, groupPageData{Name: g.Name}, g.Members, "", nil)
}

func (c *Console) findGroup(r *http.Request, v *visit, name string) (groupOut, bool, error) {
	gs, err := c.listGroups(r, v)
	for _, g := range gs {
		if g.Name == name {
			return g, true, err
		}
	}
	return groupOut{}, false, err
}

// renderGroup renders the group page (or the list, d.New) with every user
// of the org as a row, ticked and weighted as members says.
func (c *Console) renderGroup(w http.ResponseWriter, r *http.Request, v *visit, status int, d groupPageData, members []groupMember, problem string, fields map[string]string) {
	users, err := c.orgUsers(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	d.Edits = editsGroups(v)
	for _, u := range users {
		row := memberRow{ID: u.ID, Name: u.Name, Role: string(u.Role), Weight: "1"}
		for _, m := range members {
			if m.UserID == u.ID {
				row.Member, row.Weight = true, strconv.Itoa(m.Weight)
			}
		}
		if !u.Active && !row.Member {
			continue
		}
		d.Rows = append(d.Rows, row)
	}
	title := "Group " + d.Name
	if d.New {
		title = "Groups"
	}
	c.render(w, r, status, "groups", view{Title: title, V: v, Problem: problem, Fields: fields, Data: d})
}

var memberFieldRE = regexp.MustCompile(`^members\[(\d+)\]\.(user_id|weight)$`)

// saveGroup PUTs the group's ticked members with their weights (creating
// it when the list's form names a new one). A field the API refuses,
// members[i].weight, is shown next to that member's row.
func (c *Console) saveGroup(w http.ResponseWriter, r *http.Request, v *visit) {
	name := r.PathValue("name")
	d := groupPageData{Name: name}
	if name == "" {
		d.New, d.Name = true, strings.TrimSpace(r.PostFormValue("name"))
		d.Groups, _ = c.listGroups(r, v)
	} else if _, ok, err := c.findGroup(r, v, name); err != nil || !ok {
		// A group's own page saves that group: it never creates one (nor
		// reaches another org's, which is not found here).
		c.missingSource(w, r, v, err)
		return
	}
	var members []groupMember
	in := []map[string]any{}
	for _, id := range r.PostForm["member"] {
		m := groupMember{UserID: id, Weight: 1}
		weight := strings.TrimSpace(r.PostFormValue("weight-" + id))
		entry := map[string]any{"user_id": id}
		if weight != "" {
			n, err := strconv.Atoi(weight)
			if err != nil {
				n = -1 // out of range: the API names the field
			}
			m.Weight, entry["weight"] = n, n
		}
		members, in = append(members, m), append(in, entry)
	}
	bad := map[string]string{}
	if d.New {
		switch _, exists, err := c.findGroup(r, v, d.Name); {
		case err != nil:
			c.failed(w, r, v, err)
			return
		case exists:
			bad["name"] = "a group with this name exists: open it from the list to change it"
		case d.Name == "":
			bad["name"] = "required: lowercase letters, digits, - and _"
		}
	}
	if len(bad) == 0 {
		_, err := c.call(r, v, "PUT", groupsPath(v, "/"+url.PathEscape(d.Name)), map[string]any{"members": in}, nil)
		if err == nil {
			http.Redirect(w, r, "/app/groups/"+url.PathEscape(d.Name)+"?done=group-saved", http.StatusSeeOther)
			return
		}
		st, msg, fields, ok := refused(err)
		if !ok || st == http.StatusNotFound {
			c.failed(w, r, v, err)
			return
		}
		bad = map[string]string{}
		for k, f := range fields {
			// members[i] is the i-th ticked user: its row is that user's.
			if m := memberFieldRE.FindStringSubmatch(k); m != nil {
				if i, _ := strconv.Atoi(m[1]); i < len(members) {
					k = fmt.Sprintf("member-%s-%s", members[i].UserID, m[2])
				}
			}
			bad[k] = f
		}
		if len(bad) == 0 {
			c.renderGroup(w, r, v, st, d, members, msg, nil)
			return
		}
	}
	c.renderGroup(w, r, v, http.StatusUnprocessableEntity, d, members, "The group was not saved: see the fields marked below.", bad)
}

// deleteGroup asks first, then DELETEs the group. A group a source's rule
// routes to is refused (409) with the API's words, which name the sources.
func (c *Console) deleteGroup(w http.ResponseWriter, r *http.Request, v *visit) {
	g, ok, err := c.findGroup(r, v, r.PathValue("name"))
	if err != nil || !ok {
		c.missingSource(w, r, v, err)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		c.render(w, r, http.StatusOK, "group-delete", view{Title: "Delete the group " + g.Name, V: v, Data: g})
		return
	}
	if _, err := c.call(r, v, "DELETE", groupsPath(v, "/"+url.PathEscape(g.Name)), nil, nil); err != nil {
		if st, msg, _, ok := refused(err); ok && st == http.StatusConflict {
			c.renderGroup(w, r, v, st, groupPageData{Name: g.Name}, g.Members, "The group was not deleted: "+msg, nil)
			return
		}
		c.failed(w, r, v, err)
		return
	}
	http.Redirect(w, r, "/app/groups?done=group-deleted", http.StatusSeeOther)
}
