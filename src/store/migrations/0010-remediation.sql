-- The remediation guard (issue 13): every question an auto-healer asked and the answer it got,
-- and operators' overrides. Requests are the guard's memory too: hosts allowed a remediation
-- within the window count against their scopes' budgets.
create table remediation_requests (
  id bigserial primary key,
  at bigint not null,
  host text not null,
  action text not null,
  requester text not null,
  principal text not null,
  reason_given text,
  decision text not null check (decision in ('allow', 'deny')),
  reason text not null,
  scope text,
  affected integer,
  scope_limit integer
);
-- The budget's count: allowed remediations since the window's start.
create index remediation_requests_at_idx on remediation_requests (at);
create index remediation_requests_host_idx on remediation_requests (host, at);

create table remediation_overrides (
  id bigserial primary key,
  scope text not null,
  created_at bigint not null,
  until_at bigint not null,
  created_by text not null,
  reason text not null,
  ended_at bigint
);

-- The remediator role: an auto-healer's token may ask the guard (and read), nothing else.
alter table api_tokens drop constraint api_tokens_role_check;
alter table api_tokens add constraint api_tokens_role_check check (role in ('viewer', 'operator', 'approver', 'remediator', 'admin'));
