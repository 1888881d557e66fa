-- Headless Neovim client for the socratic language server (run with `nvim --headless --clean -l`).
--
-- Environment: SOCRATIC_BIN, SOCRATIC_HOME, REPO, FILE (relative to REPO), STANDALONE ("1" for
-- `lsp --standalone`), ROLE ("accept": accept a task through the code action; "watch": wait
-- until another editor accepted it), TASK (the task id; "accept" picks the first one when
-- empty), READY (a file "watch" writes once it sees the diagnostics; "accept" waits for it).
-- Writes one line to stdout: `OK <role> <task id>` or `FAIL <why>`; exits non-zero on failure.

local env = function(name, default)
  local v = os.getenv(name)
  if v == nil or v == '' then return default end
  return v
end

local function finish(ok, msg)
  io.stdout:write((ok and 'OK ' or 'FAIL ') .. msg .. '\n')
  io.stdout:flush()
  for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end
  vim.wait(500)
  os.exit(ok and 0 or 1)
end

local bin, home, repo, file = env('SOCRATIC_BIN'), env('SOCRATIC_HOME'), env('REPO'), env('FILE')
local role, task, ready = env('ROLE', 'accept'), env('TASK', ''), env('READY', '')
if not (bin and home and repo and file) then finish(false, 'missing environment') end

local cmd = { bin, '--home', home, 'lsp' }
if env('STANDALONE', '0') == '1' then table.insert(cmd, '--standalone') end

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

if not vim.wait(30000, function() return #ours() > 0 end, 50) then finish(false, 'no diagnostics within 30 s') end

if role == 'watch' then
  if ready ~= '' then
    local f = io.open(ready, 'w'); f:write('ready\n'); f:close()
  end
  local seen = vim.wait(60000, function()
    local d = find(task)
    return d ~= nil and vim.startswith(d.message, '[accepted]')
  end, 50)
  if not seen then finish(false, 'never saw ' .. task .. ' accepted') end
  finish(true, 'watch ' .. task)
end

-- role == 'accept'
if ready ~= '' and not vim.wait(60000, function() return vim.uv.fs_stat(ready) ~= nil end, 50) then
  finish(false, 'the other editor never got ready')
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
local accepted = vim.wait(30000, function()
  local d = find(task)
  return d ~= nil and vim.startswith(d.message, '[accepted]')
end, 50)
if not accepted then finish(false, 'the diagnostic of ' .. task .. ' never showed accepted') end
finish(true, 'accept ' .. task)
