--- socratic for Neovim: repair tasks as diagnostics, and the commands that act on them.
---
--- In: `setup(opts)` (see `socratic.config`), then user commands and the functions below.
--- Out: a `socratic lsp` client on Python buffers of a repository; accept / reject / attempt /
--- round requests sent as `workspace/executeCommand`; the task list in the quickfix list;
--- terminal commands recorded in a running attempt (`socratic.record`). Results are read by
--- `socratic.protocol`.

local client = require('socratic.client')
local config = require('socratic.config')
local protocol = require('socratic.protocol')
local tasks = require('socratic.tasks')

local M = {}

local function say(msg, level)
  vim.notify('socratic: ' .. msg, level or vim.log.levels.INFO)
end

local function err_text(err)
  return type(err) == 'table' and (err.message or vim.inspect(err)) or tostring(err)
end

--- The text of one `$/progress` value of a work titled `title` (the server's titles are
--- `socratic: round` / `socratic: evolve`): `socratic: round: started`,
--- `socratic: round: validating: 2/4 (50%)`, `socratic: round: round 1: 40 candidates, …`. Pure.
function M.progress_text(title, value)
  if value.kind == 'begin' then
    title = value.title or title
    return title .. ': started', title
  end
  local pct = value.kind == 'report' and type(value.percentage) == 'number' and (' (%d%%)'):format(value.percentage) or ''
  return ('%s: %s%s'):format(title or 'socratic', value.message or value.kind, pct), title
end

local progress_group = vim.api.nvim_create_augroup('socratic_progress', { clear = true })

--- Show the server's `$/progress` (rounds, evolve runs): the start and the end as
--- notifications, each step in between as a message too (level DEBUG), the latest in
--- `statusline()`.
local function show_progress()
  vim.api.nvim_clear_autocmds({ group = progress_group })
  local titles = {}
  vim.api.nvim_create_autocmd('LspProgress', {
    group = progress_group,
    callback = function(ev)
      local data = ev.data or {}
      local c = data.client_id and vim.lsp.get_client_by_id(data.client_id)
      local params = data.params or {}
      if not c or c.name ~= client.name or type(params.value) ~= 'table' then return end
      local token = tostring(params.token)
      local text, title = M.progress_text(titles[token], params.value)
      titles[token] = title
      local kind = params.value.kind
      client.state.progress = kind ~= 'end' and text or nil
      if kind == 'end' then titles[token] = nil end
      vim.notify(text, kind == 'report' and vim.log.levels.DEBUG or vim.log.levels.INFO)
    end,
  })
end

--- Start the client for Python buffers of a repository and install the recorders.
---@param opts table|nil
function M.setup(opts)
  local merged = config.merge(opts)
  client.enable(merged)
  show_progress()
  if merged.record_terminal then
    require('socratic.record').enable()
  else
    require('socratic.record').disable()
  end
  return merged
end

--- The options in effect (defaults before `setup`).
function M.options()
  return client.state.opts or config.merge({})
end

--- A task id: the argument, else the task under the cursor; nil (with a message) when neither.
local function task_id(arg)
  if arg and arg ~= '' then return arg end
  local id = tasks.at_cursor()
  if not id then say('no task under the cursor (give a task id)', vim.log.levels.WARN) end
  return id
end

--- Set a task's status: `socratic.accept` or `socratic.reject`.
local function set_status(command, verb, arg, done)
  local id = task_id(arg)
  if not id then return end
  client.execute(command, { id }, function(err, result)
    if err then
      say(('%s %s failed: %s'):format(verb, id, err_text(err)), vim.log.levels.ERROR)
    else
      say(protocol.status_message(result))
    end
    if done then done(err, result) end
  end)
end

--- Accept a task (id, or the one under the cursor) into the curriculum.
function M.accept(id, done) set_status(protocol.ACCEPT, 'accept', id, done) end

--- Reject a task (id, or the one under the cursor).
function M.reject(id, done) set_status(protocol.REJECT, 'reject', id, done) end

--- Run a round on the workspace (what a round does is the server's business).
function M.round(done)
  say('round started')
  client.execute(protocol.ROUND, {}, function(err, result)
    if err then
      say('round failed: ' .. err_text(err), vim.log.levels.ERROR)
    else
      say(protocol.round_message(result))
    end
    if done then done(err, result) end
  end)
end

--- Run (or resume) an evolve run on the workspace (round, solve, held-out, train per round);
--- its held-out resolve rate is kept for `statusline()`.
function M.evolve(done)
  say('evolve started')
  client.execute(protocol.EVOLVE, {}, function(err, result)
    if err then
      say('evolve failed: ' .. err_text(err), vim.log.levels.ERROR)
    else
      client.state.evolve = result
      say(protocol.evolve_message(result))
    end
    if done then done(err, result) end
  end)
end

--- For 'statusline': what a running round or evolve run is doing, else the latest held-out
--- resolve rate of an evolve run this session ran
--- (`socratic: held-out 40%`), or '' before one.
function M.statusline()
  if client.state.progress then return client.state.progress end
  local part = protocol.held_out_status(client.state.evolve)
  return part == '' and '' or ('socratic: ' .. part)
end

--- Generate tasks in the current file (`file = true`) or the workspace.
function M.generate(file, done)
  local args = {}
  if file then table.insert(args, vim.uri_from_bufnr(0)) end
  client.execute(protocol.GENERATE, args, function(err, result)
    if err then
      say('generate failed: ' .. err_text(err), vim.log.levels.ERROR)
    else
      say(protocol.generated_message(result))
    end
    if done then done(err, result) end
  end)
end

--- Show the problem statement in a scratch buffer at the right of the current window.
local function show_problem(started)
  local code_win = vim.api.nvim_get_current_win()
  vim.cmd('rightbelow vnew')
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype, vim.bo[buf].bufhidden, vim.bo[buf].swapfile = 'nofile', 'wipe', false
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, protocol.problem_lines(started))
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modifiable = false
  pcall(vim.api.nvim_buf_set_name, buf, 'socratic://attempt/' .. tostring(started.attempt) .. '/problem')
  vim.api.nvim_set_current_win(code_win)
  return buf
end

--- Start an attempt at a task (id, or the one under the cursor): the server makes a scratch
--- checkout of the bugged tree; its file opens in a new tab at the lines the bug changed, with
--- the problem statement beside it.
function M.start_attempt(id, done)
  id = task_id(id)
  if not id then return end
  local c = client.client()
  if not c then return end
  client.execute(protocol.START_ATTEMPT, { id }, function(err, result)
    local started = not err and protocol.attempt_started(result) or nil
    if err or not started then
      say('start attempt failed: ' .. (err and err_text(err) or 'unexpected result'), vim.log.levels.ERROR)
    else
      client.state.attempt =
        { attempt = started.attempt, task = started.task, client = c.id, root = started.root, file = started.file }
      vim.cmd('tabnew ' .. vim.fn.fnameescape(started.file))
      client.attach_to_attempt(vim.api.nvim_get_current_buf())
      local last = vim.api.nvim_buf_line_count(0)
      vim.api.nvim_win_set_cursor(0, { math.min(started.line, last), 0 })
      vim.cmd('normal! zz')
      client.state.problem_buf = show_problem(started)
      say(('attempt %s at %s started (lines %d-%d); :SocraticAttemptTest runs the failing tests, :SocraticAttemptFinish grades it')
        :format(started.attempt, started.task, started.line, started.end_line))
    end
    if done then done(err, result) end
  end, c)
end

--- The client and id of the running attempt, or nil (with a message).
local function running(verb)
  local attempt = client.state.attempt
  if not attempt then
    say('no attempt is running (:SocraticAttempt [task] starts one) to ' .. verb, vim.log.levels.WARN)
    return nil
  end
  local c = vim.lsp.get_client_by_id(attempt.client) or client.client()
  if not c then return nil end
  return c, attempt
end

--- Run the attempt's failing tests in the task's container; those still failing fill the
--- quickfix list (at their `def` lines).
function M.attempt_test(done)
  local c, attempt = running('test')
  if not c then return end
  say('running the failing tests of ' .. attempt.task .. ' in its container ...')
  client.execute(protocol.RUN_ATTEMPT_TESTS, { attempt.attempt }, function(err, result)
    if err then
      say('tests failed to run: ' .. err_text(err), vim.log.levels.ERROR)
    else
      local items = protocol.test_items(result)
      vim.fn.setqflist({}, ' ', { title = 'socratic attempt tests: ' .. protocol.attempt_tests_message(result), items = items })
      say(protocol.attempt_tests_message(result), #items > 0 and vim.log.levels.WARN or vim.log.levels.INFO)
      if #items > 0 and M.options().open_quickfix then vim.cmd('botright copen') end
    end
    if done then done(err, result) end
  end, c)
end

--- Finish the running attempt: the server grades it like `socratic solve` and stores it.
function M.finish_attempt(done)
  local c, attempt = running('finish')
  if not c then return end
  say('grading the attempt at ' .. attempt.task .. ' ...')
  client.execute(protocol.FINISH_ATTEMPT, { attempt.attempt }, function(err, result)
    if err then
      say('finish attempt failed: ' .. err_text(err), vim.log.levels.ERROR)
    else
      client.state.attempt = nil
      client.state.last_trace = protocol.get(result, 'trace')
      client.state.last_verdict = result
      local resolved = protocol.get(result, 'resolved')
      say(protocol.attempt_finished_message(result), resolved and vim.log.levels.INFO or vim.log.levels.WARN)
    end
    if done then done(err, result) end
  end, c)
end

--- Abandon the running attempt: its checkout is removed, nothing is stored.
function M.abandon_attempt(done)
  local c, attempt = running('abandon')
  if not c then return end
  client.execute(protocol.ABANDON_ATTEMPT, { attempt.attempt }, function(err, result)
    if err then
      say('abandon attempt failed: ' .. err_text(err), vim.log.levels.ERROR)
    else
      client.state.attempt = nil
      say('attempt at ' .. tostring(protocol.get(result, 'id')) .. ' abandoned')
    end
    if done then done(err, result) end
  end, c)
end

--- Put the workspace's tasks in the quickfix list (`all`: rejected and invalid too).
function M.tasks(all, done)
  local c = client.client()
  if not c then return end
  client.execute(protocol.TASKS, {}, function(err, result)
    if err then
      say('tasks failed: ' .. err_text(err), vim.log.levels.ERROR)
      if done then done(err, nil) end
      return
    end
    local list = protocol.task_list(result)
    client.state.tasks = list.tasks
    local root = c.config.root_dir or list.root
    local items = tasks.qf_items(list.tasks, root, all)
    vim.fn.setqflist({}, ' ', { title = ('socratic tasks (%d)'):format(#items), items = items })
    if #items == 0 then
      say('no tasks in this repository (:SocraticRound generates some)')
    elseif M.options().open_quickfix then
      vim.cmd('botright copen')
    end
    if done then done(nil, result, items) end
  end, c)
end

--- Show a task's bug patch (id, or the one under the cursor) in a scratch buffer.
function M.show_patch(id, done)
  id = task_id(id)
  if not id then return end
  client.execute(protocol.SHOW_PATCH, { id }, function(err, result)
    if err then
      say('show patch failed: ' .. err_text(err), vim.log.levels.ERROR)
    else
      local task, lines = protocol.patch(result)
      vim.cmd('botright new')
      local buf = vim.api.nvim_get_current_buf()
      vim.bo[buf].buftype, vim.bo[buf].bufhidden, vim.bo[buf].swapfile = 'nofile', 'wipe', false
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
      vim.bo[buf].filetype = 'diff'
      vim.bo[buf].modifiable = false
      pcall(vim.api.nvim_buf_set_name, buf, 'socratic://patch/' .. (task or id))
    end
    if done then done(err, result) end
  end)
end

--- Task ids for command-line completion (the last listed tasks, then the buffer's).
function M.complete_ids(lead)
  local seen, out = {}, {}
  local function add(id)
    if id and not seen[id] and vim.startswith(id, lead or '') then
      seen[id] = true
      table.insert(out, id)
    end
  end
  for _, d in ipairs(tasks.diagnostics(0)) do add(tasks.id_of(d)) end
  for _, r in ipairs(client.state.tasks or {}) do add(r.id) end
  return out
end

return M
