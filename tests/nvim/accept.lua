-- Headless Neovim client for the socratic language server (run with `nvim --headless --clean -l`).
--
-- Environment: SOCRATIC_BIN, SOCRATIC_HOME, REPO, FILE (relative to REPO), STANDALONE ("1" for
-- `lsp --standalone`), ROLE ("accept": accept a task through the code action; "watch": wait
-- until another editor accepted it), TASK (the task id; "accept" picks the first one when
-- empty), READY (a file "watch" writes once it sees the diagnostics; "accept" waits for it).
-- Writes one line to stdout: `OK <role> <task id>` or `FAIL <why>`; exits non-zero on failure.

local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'harness.lua'))
local env = harness.env
local _, finish, wait = harness.new(nil, 50)

local bin, home, repo, file = env('SOCRATIC_BIN'), env('SOCRATIC_HOME'), env('REPO'), env('FILE')
local role, task, ready = env('ROLE') or 'accept', env('TASK') or '', env('READY') or ''
if not (bin and home and repo and file) then finish(false, 'missing environment') end

local cmd = { bin, '--home', home, 'lsp' }
if env('STANDALONE') == '1' then table.insert(cmd, '--standalone') end

vim.cmd.edit(vim.fs.joinpath(repo, file))
local buf = vim.api.nvim_get_current_buf()
-- every task of the file (the default shows the curriculum only, two per function)
local init_options = { diagnostics = { show = 'all', perFunction = 0 } }
local client_id = vim.lsp.start({ name = 'socratic', cmd = cmd, root_dir = repo, init_options = init_options }, { bufnr = buf })
if not client_id then finish(false, 'vim.lsp.start failed') end

local function ours()
  return vim.tbl_filter(function(d) return d.source == 'socratic' end, vim.diagnostic.get(buf))
end
local function task_of(d) return d.user_data and d.user_data.lsp and d.user_data.lsp.data end
local function find(id)
  for _, d in ipairs(ours()) do
    if task_of(d) == id then return d end
  end
end

wait('no diagnostics within 30 s', 30000, function() return #ours() > 0 end)

if role == 'watch' then
  if ready ~= '' then
    local f = io.open(ready, 'w'); f:write('ready\n'); f:close()
  end
  wait('never saw ' .. task .. ' accepted', 60000, function()
    local d = find(task)
    return d ~= nil and vim.startswith(d.message, '[accepted]')
  end)
  finish(true, 'watch ' .. task)
end

-- role == 'accept'
if ready ~= '' then
  wait('the other editor never got ready', 60000, function() return vim.uv.fs_stat(ready) ~= nil end)
end
local target = task ~= '' and find(task) or ours()[1]
if not target then finish(false, 'no diagnostic for ' .. task) end
task = task_of(target)
vim.api.nvim_win_set_cursor(0, { target.lnum + 1, target.col })
-- the code action menu: pick the accept action without a prompt
vim.lsp.buf.code_action({
  apply = true,
  context = { diagnostics = { target.user_data.lsp }, only = { 'quickfix' } },
  filter = function(action)
    return action.command ~= nil and action.command.command == 'socratic.accept'
  end,
})
wait('the diagnostic of ' .. task .. ' never showed accepted', 30000, function()
  local d = find(task)
  return d ~= nil and vim.startswith(d.message, '[accepted]')
end)
finish(true, 'accept ' .. task)
