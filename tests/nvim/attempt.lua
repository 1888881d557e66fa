-- Headless Neovim attempting a task with the socratic plugin, as a user does: run with
-- `nvim --headless --clean -l`.
--
-- Environment: PLUGIN, SOCRATIC_BIN, SOCRATIC_HOME, REPO, FILE (the task's file, relative to
-- REPO, opened first so a client runs), TASK (a validated task with an environment), REPORT (a
-- JSON file this script writes for the test to check).
-- Steps: open FILE; :SocraticAttempt TASK (a new tab on the checkout's file at the bug, the
-- problem statement beside it); `:!` typed, a `:terminal` job and a shell marking its prompt
-- (OSC 133) during the attempt; :SocraticAttemptTest (failing
-- tests in the quickfix list); the buffer edited back to the clean file and saved;
-- :SocraticAttemptTest (passing); :SocraticAttemptFinish (the verdict).
-- Exits 0 after writing REPORT, 1 (with `FAIL why` on stdout) when a step times out.

local harness = dofile(vim.fs.joinpath(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)), 'harness.lua'))
local env = harness.env
local plugin, bin, home, repo, file, task, report_path =
  env('PLUGIN'), env('SOCRATIC_BIN'), env('SOCRATIC_HOME'), env('REPO'), env('FILE'), env('TASK'), env('REPORT')

local report, finish, wait = harness.new(report_path, 100)
if not (plugin and bin and home and repo and file and task and report_path) then finish(false, 'missing environment') end

vim.opt.runtimepath:prepend(plugin)
vim.cmd('filetype on')
vim.cmd('runtime! plugin/socratic.lua')
local socratic = require('socratic')
local state = require('socratic.client').state
socratic.setup({ binary = bin, home = home })
local messages = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(messages, msg)
  return notify(msg, level, opts)
end

vim.cmd.edit(vim.fs.joinpath(repo, file))
local repo_buf = vim.api.nvim_get_current_buf()
wait('client attached', 30000, function() return #vim.lsp.get_clients({ name = 'socratic', bufnr = repo_buf }) > 0 end)

-- :SocraticAttempt TASK
local tabs_before = #vim.api.nvim_list_tabpages()
vim.cmd('SocraticAttempt ' .. task)
wait('attempt opened', 60000, function()
  return state.attempt ~= nil and vim.startswith(vim.api.nvim_buf_get_name(0), state.attempt.root)
end)
local buf = vim.api.nvim_get_current_buf()
report.attempt = { attempt = state.attempt.attempt, task = state.attempt.task, root = state.attempt.root }
report.buffer = vim.api.nvim_buf_get_name(buf)
report.new_tab = #vim.api.nvim_list_tabpages() == tabs_before + 1
report.cursor_line = vim.api.nvim_win_get_cursor(0)[1]
report.cursor_text = vim.api.nvim_get_current_line()
report.attached = vim.lsp.buf_is_attached(buf, state.attempt.client)
wait('one client only', 5000, function() return #vim.lsp.get_clients({ name = 'socratic' }) == 1 end)
local problem = state.problem_buf
report.problem = (problem and vim.api.nvim_buf_is_valid(problem)) and vim.api.nvim_buf_get_lines(problem, 0, -1, false) or {}

-- commands during the attempt: typed on the command line, a terminal job, a shell marking its
-- prompt (OSC 133): prompt, typed command, output, exit status 7
vim.api.nvim_feedkeys(vim.keycode(':!echo attempt-check; exit 4<CR>'), 'xt', false)
report.shell_error = vim.v.shell_error
local closed = 0
vim.api.nvim_create_autocmd('TermClose', { callback = function() closed = closed + 1 end })
vim.cmd('tabnew')
vim.cmd([[terminal sh -c 'exit 5']])
wait('terminal job closed', 10000, function() return closed >= 1 end)
vim.cmd([[terminal sh -c "printf '\033]133;A\007$ \033]133;B\007'; sleep 0.3; printf 'echo integrated\r\n\033]133;C\007integrated\r\n\033]133;D;7\007'; sleep 0.5"]])
wait('integrated terminal closed', 10000, function() return closed >= 2 end)
vim.wait(300)
vim.cmd('tabclose')
vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))

local function qf_items()
  local out = {}
  for _, it in ipairs(vim.fn.getqflist()) do
    table.insert(out, { file = vim.api.nvim_buf_get_name(it.bufnr), lnum = it.lnum, text = it.text,
      test = it.user_data and it.user_data.test })
  end
  return out
end
local function tests_ran()
  return vim.fn.getqflist({ title = 0 }).title:match('^socratic attempt tests') ~= nil
end

-- the failing tests, with the bug
vim.cmd('SocraticAttemptTest')
wait('failing tests listed', 300000, tests_ran)
report.failing_title = vim.fn.getqflist({ title = 0 }).title
report.failing = qf_items()

-- the fix: the clean file's text, saved
vim.cmd('cclose')
vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
local clean = vim.fn.readfile(vim.fs.joinpath(repo, file))
vim.api.nvim_buf_set_lines(buf, 0, -1, false, clean)
vim.cmd('write')

vim.fn.setqflist({}, 'r', { title = 'cleared', items = {} })
vim.cmd('SocraticAttemptTest')
wait('tests run again', 300000, tests_ran)
report.passing_title = vim.fn.getqflist({ title = 0 }).title
report.passing = qf_items()

-- :SocraticAttemptFinish
vim.cmd('SocraticAttemptFinish')
wait('verdict', 300000, function() return state.last_verdict ~= nil end)
report.verdict = state.last_verdict
report.attempt_after = state.attempt
for _, m in ipairs(messages) do
  if m:match('^socratic: attempt at .* graded') then report.verdict_message = m end
end
finish(true, 'attempt')
