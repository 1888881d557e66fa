-- Headless Neovim driving the socratic plugin (editor-extensions/nvim) the way a user does:
-- run with `nvim --headless --clean -l`.
--
-- Environment: PLUGIN (the plugin folder, put on the runtimepath), SOCRATIC_BIN, SOCRATIC_HOME,
-- REPO, FILE (relative to REPO), REPORT (a JSON file this script writes for the test to check).
-- Steps: setup(); open FILE; :SocraticTasks; :SocraticAccept on the diagnostic under the
-- cursor; :SocraticReject ID; :checkhealth socratic; :help socratic; :SocraticTasks again;
-- :SocraticRound (the store holds a round stopped before its select step, so it finishes
-- without a container engine) and the message it shows.
-- Exits 0 after writing REPORT, 1 (with `FAIL why` on stdout) when a step times out.

local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'harness.lua'))
local env = harness.env
local plugin, bin, home, repo, file, report_path =
  env('PLUGIN'), env('SOCRATIC_BIN'), env('SOCRATIC_HOME'), env('REPO'), env('FILE'), env('REPORT')

local report, finish, wait = harness.new(report_path, 50)
if not (plugin and bin and home and repo and file and report_path) then finish(false, 'missing environment') end

vim.opt.runtimepath:prepend(plugin)
vim.cmd('filetype on')
vim.cmd('runtime! plugin/socratic.lua')
local socratic = require('socratic')
local state = require('socratic.client').state
local tasks = require('socratic.tasks')
socratic.setup({ binary = bin, home = home, diagnostics = { show = 'all', per_function = 0 } })

vim.cmd.edit(vim.fs.joinpath(repo, file))
local buf = vim.api.nvim_get_current_buf()
wait('client attached', 30000, function() return #vim.lsp.get_clients({ name = 'socratic', bufnr = buf }) > 0 end)
wait('diagnostics shown', 30000, function() return #tasks.diagnostics(buf) >= 3 end)

local function find(id)
  for _, d in ipairs(tasks.diagnostics(buf)) do
    if tasks.id_of(d) == id then return d end
  end
end
local function on(d) vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col }) end
local function qf_rows()
  local out = {}
  for _, it in ipairs(vim.fn.getqflist()) do
    table.insert(out, { id = it.user_data and it.user_data.id, status = it.user_data and it.user_data.status,
      lnum = it.lnum, col = it.col, file = vim.api.nvim_buf_get_name(it.bufnr), text = it.text })
  end
  return out
end

-- :SocraticTasks
vim.cmd('SocraticTasks')
wait('quickfix list filled', 30000, function()
  return vim.fn.getqflist({ title = 0 }).title:match('^socratic tasks') ~= nil and #vim.fn.getqflist() > 0
end)
report.tasks_before = qf_rows()
report.qf_window = vim.fn.getqflist({ winid = 0 }).winid ~= 0
vim.cmd('cclose')

-- :SocraticAccept on the diagnostic under the cursor
local diags = tasks.diagnostics(buf)
local accept_d, reject_d = diags[1], diags[2]
report.accepted = tasks.id_of(accept_d)
on(accept_d)
report.under_cursor = tasks.at_cursor()
vim.cmd('SocraticAccept')
wait('diagnostic shows accepted', 30000, function()
  local d = find(report.accepted)
  return d ~= nil and vim.startswith(d.message, '[accepted]')
end)

-- :SocraticReject ID (an argument, the cursor elsewhere)
report.rejected = tasks.id_of(reject_d)
vim.cmd('SocraticReject ' .. report.rejected)
wait('rejected diagnostic gone', 30000, function() return find(report.rejected) == nil end)

-- :checkhealth socratic
vim.cmd('checkhealth socratic')
report.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
vim.cmd('buffer ' .. buf)

-- :help socratic
vim.cmd('helptags ' .. vim.fn.fnameescape(vim.fs.joinpath(plugin, 'doc')))
local help_ok, help_err = pcall(vim.cmd, 'help socratic')
report.help = help_ok and vim.api.nvim_buf_get_name(0) or tostring(help_err)
report.help_line = help_ok and vim.api.nvim_get_current_line() or ''
vim.cmd('buffer ' .. buf)

-- the list after the changes
vim.fn.setqflist({}, 'r', { title = 'cleared', items = {} })
vim.cmd('SocraticTasks')
wait('quickfix list filled again', 30000, function()
  return vim.fn.getqflist({ title = 0 }).title:match('^socratic tasks') ~= nil
end)
report.tasks_after = qf_rows()

-- :SocraticRound and the message the plugin shows
local messages = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(messages, msg)
  return notify(msg, level, opts)
end
local function round_message()
  for _, m in ipairs(messages) do
    if m:match('^socratic: round %d') or m:match('^socratic: round failed') then return m end
  end
end
vim.cmd('SocraticRound')
wait('round message', 60000, function() return round_message() ~= nil end)
report.round_message = round_message()
-- its progress, as the plugin showed it, in order
wait('progress end', 10000, function()
  return vim.iter(messages):any(function(m) return m:match('^socratic: round: round %d') ~= nil end)
end)
report.progress = vim.iter(messages):filter(function(m) return vim.startswith(m, 'socratic: round: ') end):totable()
finish(true, 'plugin')
