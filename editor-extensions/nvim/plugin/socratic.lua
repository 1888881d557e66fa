-- socratic: user commands. The client itself starts with `require('socratic').setup()`.
if vim.g.loaded_socratic then return end
vim.g.loaded_socratic = true

local function s() return require('socratic') end
local function ids(lead) return s().complete_ids(lead) end
local cmd = vim.api.nvim_create_user_command

cmd('SocraticAccept', function(o) s().accept(o.args) end,
  { nargs = '?', complete = ids, desc = 'socratic: accept the task under the cursor (or TASK_ID)' })
cmd('SocraticReject', function(o) s().reject(o.args) end,
  { nargs = '?', complete = ids, desc = 'socratic: reject the task under the cursor (or TASK_ID)' })
cmd('SocraticAttempt', function(o) s().start_attempt(o.args) end,
  { nargs = '?', complete = ids, desc = 'socratic: attempt the task under the cursor (or TASK_ID) on a checkout of its bug' })
cmd('SocraticStartAttempt', function(o) s().start_attempt(o.args) end,
  { nargs = '?', complete = ids, desc = 'socratic: attempt the task under the cursor (or TASK_ID) on a checkout of its bug' })
cmd('SocraticAttemptTest', function() s().attempt_test() end,
  { nargs = 0, desc = "socratic: run the attempt's failing tests in the task's container (quickfix)" })
cmd('SocraticAttemptFinish', function() s().finish_attempt() end,
  { nargs = 0, desc = 'socratic: grade the attempt and store it as a trace' })
cmd('SocraticFinishAttempt', function() s().finish_attempt() end,
  { nargs = 0, desc = 'socratic: grade the attempt and store it as a trace' })
cmd('SocraticAttemptAbandon', function() s().abandon_attempt() end,
  { nargs = 0, desc = 'socratic: drop the attempt and its checkout' })
cmd('SocraticRound', function() s().round() end, { nargs = 0, desc = 'socratic: run a round on the workspace' })
cmd('SocraticEvolve', function() s().evolve() end,
  { nargs = 0, desc = 'socratic: run the closed loop (round, solve, held-out, train) on the workspace' })
cmd('SocraticGenerate', function(o) s().generate(o.bang) end,
  { nargs = 0, bang = true, desc = 'socratic: generate tasks in the workspace (! : this file only)' })
cmd('SocraticTasks', function(o) s().tasks(o.bang) end,
  { nargs = 0, bang = true, desc = 'socratic: the tasks in the quickfix list (! : rejected and invalid too)' })
cmd('SocraticPatch', function(o) s().show_patch(o.args) end,
  { nargs = '?', complete = ids, desc = "socratic: show the task's bug patch" })
