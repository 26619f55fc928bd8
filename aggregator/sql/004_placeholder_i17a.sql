-- Placeholder for migration 004, which another change of this wave adds; migrate.c needs
-- versions without gaps. The integrator drops this file when merging the real 004.
DO $$ BEGIN END $$;
