--- Tasks as the editor shows them.
---
--- In: the buffer's diagnostics (source `socratic`, task id in the LSP `data`) and the cursor;
--- the rows `socratic.tasks` returns. Out: the task id under the cursor, quickfix items. Reads
--- diagnostics and the cursor; changes nothing.

local M = {}

M.SOURCE = 'socratic'

--- The task id a diagnostic carries, or nil.
---@param d vim.Diagnostic
function M.id_of(d)
  local lsp = d.user_data and d.user_data.lsp
  local data = lsp and lsp.data
  if type(data) == 'string' and data ~= '' then return data end
  return nil
end

--- The socratic diagnostics of `bufnr` on 0-based `lnum` (every line when nil).
function M.diagnostics(bufnr, lnum)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, lnum and { lnum = lnum } or nil)) do
    if d.source == M.SOURCE and M.id_of(d) then table.insert(out, d) end
  end
  return out
end

--- Pick the diagnostic under a 0-based column among those of one line: one whose range holds
--- the column, else the nearest after it, else the first. Pure.
---@param diags vim.Diagnostic[]
---@param col integer
---@return vim.Diagnostic|nil
function M.pick(diags, col)
  local best, after
  for _, d in ipairs(diags) do
    local s, e = d.col or 0, d.end_lnum ~= d.lnum and math.huge or (d.end_col or d.col or 0)
    if s <= col and col <= e then
      if not best or s > best.col then best = d end
    elseif s > col and (not after or s < after.col) then
      after = d
    end
  end
  return best or after or diags[1]
end

--- The task under the cursor of window `win` (default: current), or nil.
function M.at_cursor(win)
  win = win or vim.api.nvim_get_current_win()
  local bufnr = vim.api.nvim_win_get_buf(win)
  local pos = vim.api.nvim_win_get_cursor(win)
  local d = M.pick(M.diagnostics(bufnr, pos[1] - 1), pos[2])
  return d and M.id_of(d) or nil
end

--- Statuses left out of the list unless every task is asked for.
M.HIDDEN = { rejected = true, invalid = true }

--- Quickfix items for the rows of `socratic.tasks`. `all`: keep rejected and invalid tasks.
--- Pure.
---@param rows table[]
---@param root string|nil the repository root (rows carry paths relative to it)
---@param all boolean|nil
function M.qf_items(rows, root, all)
  local items = {}
  for _, r in ipairs(rows or {}) do
    if all or not M.HIDDEN[r.status] then
      local filename = r.file
      if root and root ~= '' and not vim.startswith(r.file, '/') then
        filename = root .. '/' .. r.file
      elseif r.uri and vim.startswith(r.uri, 'file://') then
        filename = vim.uri_to_fname(r.uri)
      end
      local code = (r.skill ~= nil and r.skill ~= vim.NIL) and r.skill or r.operator
      local strong = r.status == 'valid' or r.status == 'accepted' or r.status == 'scored'
      table.insert(items, {
        filename = filename,
        lnum = r.line,
        col = r.column,
        type = strong and 'I' or 'N',
        text = ('[%s] %s %s: %s'):format(r.status, code, r.id, r.statement or ''),
        user_data = { id = r.id, status = r.status },
      })
    end
  end
  return items
end

return M
